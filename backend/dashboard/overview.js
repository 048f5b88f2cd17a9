import { COLOURS, api, barChart, cell, formatUnits, kgForChart, link, showError } from "./common.js";

const DAYS = 90;

async function load() {
  const stats = await api("/v1/stats");
  document.querySelector("#minted").textContent = `${stats.minted.kg} kg`;
  document.querySelector("#retired").textContent = `${stats.retired.kg} kg`;
  document.querySelector("#circulating").textContent = `${stats.circulating.kg} kg`;
  document.querySelector("#drivers").textContent = stats.drivers;
  document.querySelector("#devices").textContent = stats.devices;

  const today = new Date();
  const from = new Date(today.getTime() - (DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
  const days = await api(`/v1/stats/daily?from=${from}&to=${today.toISOString().slice(0, 10)}`);
  const labels = days.map((day) => day.date);
  barChart(document.querySelector("#minted-chart"), labels, [
    { label: "kg credited", data: days.map((day) => kgForChart(day.minted.grams)), backgroundColor: COLOURS.ev },
  ]);
  barChart(document.querySelector("#retired-chart"), labels, [
    { label: "kg retired", data: days.map((day) => kgForChart(day.retired.grams)), backgroundColor: COLOURS.retired },
  ]);
  barChart(
    document.querySelector("#drivers-chart"),
    labels,
    [{ label: "drivers", data: days.map((day) => day.activeDrivers), backgroundColor: COLOURS.drivers }],
    { yTitle: "drivers" },
  );
  const price = (day) => (day.averagePricePerKgWei === null ? null : Number(formatUnits(day.averagePricePerKgWei, 18)));
  barChart(
    document.querySelector("#price-chart"),
    labels,
    [{ label: "ETH per kg", data: days.map(price), backgroundColor: COLOURS.price }],
    { yTitle: "ETH per kg" },
  );

  const body = document.querySelector("#retirements tbody");
  for (const retirement of (await api("/v1/retirements?limit=20")).data) {
    const row = body.insertRow();
    cell(row, retirement.retirementId);
    cell(row, retirement.beneficiary);
    cell(row, retirement.purpose);
    cell(row, retirement.amount.kg, "number");
    cell(row, retirement.retiredAt.slice(0, 10));
    cell(row, "").append(link(`/v1/retirements/${retirement.retirementId}/certificate`, "certificate"));
  }
  document.body.dataset.loaded = "true";
}

load().catch((error) => showError("#error", error));
