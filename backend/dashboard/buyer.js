import {
  UserError, api, cell, clearError, connectWallet, ether, formatUnits, kg, link, onClick, parseUnits, sendPrepared,
  short, showError, waitForIndex,
} from "./common.js";

let buyer = null;
let quoted = null; // {grams, priceWei} of the quote shown

function forgetQuote() {
  quoted = null;
  document.querySelector("#quote").hidden = true;
}

async function quote() {
  forgetQuote();
  const grams = parseUnits(document.querySelector("#kg").value, 3, "kg to buy");
  const params = new URLSearchParams({ grams: grams.toString() });
  if (buyer) params.set("buyer", buyer);
  const answer = await api(`/v1/market/quote?${params}`);
  document.querySelector("#quote").hidden = false;
  document.querySelector("#quote-kg").textContent = `${answer.available.kg} of ${answer.requested.kg} kg`;
  document.querySelector("#quote-price").textContent = ether(answer.priceWei);
  const body = document.querySelector("#quote-listings tbody");
  body.replaceChildren();
  for (const take of answer.listings) {
    const row = body.insertRow();
    cell(row, take.listingId);
    cell(row, short(take.seller));
    cell(row, take.grams.kg, "number");
    cell(row, formatUnits(take.pricePerKgWei, 18), "number");
    cell(row, formatUnits(take.priceWei, 18), "number");
  }
  if (!answer.complete) {
    throw new UserError("NOT_ENOUGH_LISTED", `Only ${answer.available.kg} kg can be bought in one order now`);
  }
  quoted = { grams, priceWei: answer.priceWei };
}

async function buy() {
  if (!buyer) throw new UserError("NOT_CONNECTED", "Connect your wallet first: it signs the purchase");
  if (!quoted) throw new UserError("NO_QUOTE", "Get a quote first");
  const retire = document.querySelector("#retire").checked;
  const beneficiary = document.querySelector("#beneficiary").value.trim();
  if (retire && !beneficiary) throw new UserError("NO_BENEFICIARY", "Name who the retirement is for");
  document.querySelector("#done").hidden = true;
  const order = await api("/v1/market/orders", {
    method: "POST",
    body: {
      buyer,
      grams: quoted.grams.toString(),
      maxPriceWei: quoted.priceWei, // the price moved up since the quote: refused, never paid
      ...(retire ? { retire: { beneficiary, purpose: document.querySelector("#purpose").value.trim() } } : {}),
    },
  });
  forgetQuote(); // from here on the wallet may send it: a second click must not buy again
  const mined = await sendPrepared(order);
  const filled = mined.events.find((event) => event.name === "OrderFilled");
  await waitForIndex(mined.blockNumber);
  const done = document.querySelector("#done");
  done.hidden = false;
  done.replaceChildren(
    `Bought ${kg(filled.args.amount)} kg for ${ether(filled.args.price)} in ${short(mined.txHash)}. `,
  );
  const retirementId = filled.args.retirementId;
  if (retirementId && retirementId !== "0") {
    done.append(`Retired as number ${retirementId}: `, link(`/v1/retirements/${retirementId}/certificate`, "the certificate"));
  }
}

document.querySelector("#kg").addEventListener("input", forgetQuote); // a quote is for the amount it was asked for
onClick("#connect", "#error", async () => {
  buyer = await connectWallet();
  document.querySelector("#connected").textContent = `Connected: ${buyer}`;
});
document.querySelector("#quote-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError("#error");
  try {
    await quote();
  } catch (error) {
    showError("#error", error);
  }
});
onClick("#buy", "#error", buy);
