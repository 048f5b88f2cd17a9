import {
  COLOURS, UserError, api, barChart, cell, clearError, config, connectWallet, ether, formatUnits, kg, kgForChart,
  onClick, parseUnits, sendPrepared, short, showError, waitForIndex,
} from "./common.js";

const YEAR_MS = 365 * 86_400_000;
let connected = null; // the wallet's account, once connected

const isoDay = (date) => date.toISOString().slice(0, 10);

let shown = 0; // which call of show() is the latest: an older one that finishes late draws nothing

async function show(address) {
  const mine = ++shown;
  const stale = () => mine !== shown;
  clearError("#error");
  document.querySelector("#account").hidden = true; // never another address's figures under this one
  delete document.body.dataset.loaded;
  const account = await api(`/v1/accounts/${encodeURIComponent(address)}`);
  if (stale()) return;
  address = account.address; // checksummed by the API
  document.querySelector("#address").value = address;
  history.replaceState(null, "", `?address=${address}`);
  for (const figure of ["balance", "minted", "sold", "retired"]) {
    document.querySelector(`#${figure}`).textContent = `${account[figure].kg} kg`;
  }
  const from = isoDay(new Date(Date.now() - YEAR_MS));
  const [devices, days, listings] = await Promise.all([
    api(`/v1/accounts/${address}/devices`),
    api(`/v1/accounts/${address}/days?from=${from}`),
    api(`/v1/listings?seller=${address}&limit=100`),
  ]);
  if (stale()) return;
  document.querySelector("#account").hidden = false;
  const vehicle = Object.fromEntries(devices.map((device) => [device.address, device.vehicleClass]));
  drawDays(days, vehicle);
  showListings(listings.data);
  const explained = await explain(devices, from);
  if (stale()) return;
  showExplanations(explained, vehicle);
  document.body.dataset.loaded = "true";
}

function drawDays(days, vehicle) {
  const labels = [...new Set(days.map((day) => day.date))].sort();
  const grams = (electric) =>
    labels.map((date) =>
      kgForChart(
        days
          .filter((day) => day.date === date && (vehicle[day.device] === "battery_electric") === electric)
          .reduce((sum, day) => sum + BigInt(day.grams.grams), 0n),
      ),
    );
  barChart(
    document.querySelector("#days-chart"),
    labels,
    [
      { label: "electric days (kg)", data: grams(true), backgroundColor: COLOURS.ev },
      { label: "car-free days (kg)", data: grams(false), backgroundColor: COLOURS.carFree },
    ],
    { stacked: true },
  );
}

/** The oracle's decisions on each day the devices reported, newest first; what the oracle cannot tell
 * (down, or too slow) is said, and the rest of the page stands. */
async function explain(devices, from) {
  clearError("#explain-error");
  const { oracleUrl } = await config();
  const rows = [];
  try {
    for (const device of devices) {
      const url = `${oracleUrl}/v1/devices/${device.address}/days?from=${from}`;
      const answer = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!answer.ok) throw new UserError("ORACLE_REFUSED", `The oracle answered ${answer.status}`);
      for (const day of (await answer.json()).days) rows.push({ device: device.address, ...day });
    }
  } catch (error) {
    const reason =
      error instanceof UserError
        ? error
        : new UserError("ORACLE_UNREACHABLE", `The oracle at ${oracleUrl} does not answer, so its decisions cannot be shown`);
    showError("#explain-error", reason);
  }
  return rows.sort((a, b) => b.day - a.day || a.device.localeCompare(b.device));
}

function showExplanations(rows, vehicle) {
  const body = document.querySelector("#days tbody");
  body.replaceChildren();
  for (const day of rows) {
    const row = body.insertRow();
    row.dataset.outcome = day.outcome;
    cell(row, day.date);
    cell(row, `${short(day.device)} (${vehicle[day.device]?.replace("_", " ") ?? "?"})`);
    cell(row, day.outcome, `outcome-${day.outcome}`);
    cell(row, day.kg, "number");
    cell(row, day.reason);
    cell(row, day.mint?.txHash ? short(day.mint.txHash) : "—").title = day.mint?.txHash ?? "";
  }
}

function showListings(listings) {
  const body = document.querySelector("#listings tbody");
  body.replaceChildren();
  for (const listing of listings) {
    const row = body.insertRow();
    cell(row, listing.listingId);
    cell(row, listing.remaining.kg, "number");
    cell(row, formatUnits(listing.pricePerKgWei, 18), "number");
    const button = document.createElement("button");
    button.className = "secondary";
    button.textContent = "Cancel";
    button.addEventListener("click", () => cancel(listing.listingId, button));
    cell(row, "").append(button);
  }
}

function requireWallet() {
  if (!connected) throw new UserError("NOT_CONNECTED", "Connect the wallet that owns these credits first");
  return connected;
}

async function list() {
  const seller = requireWallet();
  const grams = parseUnits(document.querySelector("#list-kg").value, 3, "kg to list");
  const price = parseUnits(document.querySelector("#list-price").value, 18, "price");
  const body = { seller, grams: grams.toString(), pricePerKgWei: price.toString() };
  document.querySelector("#list-done").hidden = true;
  let step = await api("/v1/market/listings", { method: "POST", body });
  if (step.kind === "approve") {
    await sendPrepared(step); // the market may now take the credits into escrow
    step = await api("/v1/market/listings", { method: "POST", body });
  }
  document.querySelector("#list-kg").value = ""; // the wallet may now send it: a second click must not list again
  const mined = await sendPrepared(step);
  const created = mined.events.find((event) => event.name === "ListingCreated");
  await waitForIndex(mined.blockNumber);
  const done = document.querySelector("#list-done");
  done.hidden = false;
  done.textContent = `Listed ${kg(grams)} kg at ${ether(price)} per kg: listing ${created.args.listingId}`;
  await show(seller);
}

async function cancel(listingId, button) {
  button.disabled = true;
  clearError("#list-error");
  try {
    const seller = requireWallet();
    const mined = await sendPrepared(await api(`/v1/market/listings/${listingId}/cancel`, { method: "POST", body: { seller } }));
    await waitForIndex(mined.blockNumber);
    await show(seller);
  } catch (error) {
    showError("#list-error", error);
    button.disabled = false;
  }
}

document.querySelector("#address-form").addEventListener("submit", (event) => {
  event.preventDefault();
  show(document.querySelector("#address").value.trim()).catch((error) => showError("#error", error));
});
onClick("#connect", "#error", async () => {
  connected = await connectWallet();
  document.querySelector("#connected").textContent = `Connected: ${connected}`;
  await show(connected);
});
onClick("#list", "#list-error", list);

const start = new URLSearchParams(location.search).get("address");
if (start) show(start).catch((error) => showError("#error", error));
