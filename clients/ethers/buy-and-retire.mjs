// An independent client of the registry: ethers.js, nothing from this project but the contracts' ABIs.
// It proves the devnet and the contracts are standard: a wallet library that knows nothing of Python
// reads a driver's balance, buys credits through the market with a buyer's key, and retires them.
//
//   GTC_RPC_URL=http://127.0.0.1:8545 GTC_DEPLOYMENT=var/devnet/deployment.json \
//   BUYER_KEY=0x… DRIVER=0x… GRAMS=1500 RETIRE_GRAMS=1000 node clients/ethers/buy-and-retire.mjs
//
// It buys GRAMS across the open listings, cheapest first, paying the market's own quote; retires
// RETIRE_GRAMS for BENEFICIARY; and prints what it did as one JSON object (amounts as strings).

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Contract, JsonRpcProvider, Wallet } from "ethers";

const here = dirname(fileURLToPath(import.meta.url));
const build = join(here, "..", "..", "contracts", "build");
const abi = (name) => JSON.parse(readFileSync(join(build, `${name}.json`), "utf8")).abi;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

const deployment = JSON.parse(readFileSync(required("GTC_DEPLOYMENT"), "utf8"));
// No request cache: ethers answers a repeated call within 250 ms from memory, and on a devnet that mines
// each transaction at once the second transaction would get the first one's nonce.
const provider = new JsonRpcProvider(required("GTC_RPC_URL"), undefined, { staticNetwork: true, cacheTimeout: -1 });
const buyer = new Wallet(required("BUYER_KEY"), provider);
const driver = required("DRIVER");
const grams = BigInt(required("GRAMS"));
const retireGrams = BigInt(required("RETIRE_GRAMS"));
const beneficiary = process.env.BENEFICIARY ?? "ethers.js client";
const purpose = process.env.PURPOSE ?? "proof that any wallet library can buy and retire";

const token = new Contract(deployment.token, abi("CreditToken"), buyer);
const market = new Contract(deployment.market, abi("CreditMarket"), buyer);

const network = await provider.getNetwork();
if (network.chainId !== BigInt(deployment.chain_id)) {
  throw new Error(`the node is chain ${network.chainId}, the deployment is for ${deployment.chain_id}`);
}
const driverBalance = await token.balanceOf(driver);

// Open listings, cheapest first, as the backend's quote orders them.
const count = await market.listingCount();
const open = [];
for (let id = 1n; id <= count; id++) {
  const listing = await market.listing(id);
  if (listing.remaining > 0n) open.push({ id, pricePerKg: listing.pricePerKg });
}
open.sort((a, b) => (a.pricePerKg < b.pricePerKg ? -1 : a.pricePerKg > b.pricePerKg ? 1 : Number(a.id - b.id)));
const ids = open.map((listing) => listing.id);

// Asking for more than is listed reverts with the market's custom error, decoded by ethers from the ABI.
let refusal = null;
try {
  await market.fillOrder.staticCall(10n ** 30n, ids, { value: 0n });
} catch (error) {
  refusal = error.revert?.name ?? String(error.shortMessage ?? error);
}

const [price] = await market.quote(grams, ids);
const bought = await (await market.fillOrder(grams, ids, { value: price })).wait();
const retired = await (await token.retire(retireGrams, beneficiary, purpose, 0, 0)).wait();
const retirement = retired.logs
  .map((log) => {
    try {
      return token.interface.parseLog(log);
    } catch {
      return null;
    }
  })
  .find((event) => event?.name === "CreditsRetired");

console.log(
  JSON.stringify({
    chainId: network.chainId.toString(),
    driverBalance: driverBalance.toString(),
    listingsUsed: ids.map(String),
    pricePaid: price.toString(),
    buyTx: bought.hash,
    retireTx: retired.hash,
    retirementId: retirement.args.retirementId.toString(),
    buyerBalance: (await token.balanceOf(buyer.address)).toString(),
    refusal,
  }),
);
