// What every page shares: the API, amounts as exact integers (BigInt, never floats), the wallet
// (any EIP-1193 provider, such as MetaMask's window.ethereum), and showing errors.

export class UserError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch {
    throw new UserError("BACKEND_UNREACHABLE", "The backend does not answer; is it running?");
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = answer?.error ?? {};
    throw new UserError(error.code ?? `HTTP_${response.status}`, error.message ?? response.statusText);
  }
  return answer;
}

let configPromise;
export function config() {
  configPromise ??= api("/app/config.json");
  return configPromise;
}

// -- amounts ----------------------------------------------------------------------------------------

/** "1.5" with `decimals` 3 → 1500n; refuses anything but plain decimal digits. */
export function parseUnits(text, decimals, what) {
  const value = String(text).trim();
  const match = /^(\d+)(?:\.(\d*))?$/.exec(value);
  if (!match || (match[2] ?? "").length > decimals) {
    throw new UserError("INVALID_AMOUNT", `${what}: "${value}" is not a number with at most ${decimals} decimals`);
  }
  const amount = BigInt(match[1] + (match[2] ?? "").padEnd(decimals, "0"));
  if (amount === 0n) throw new UserError("INVALID_AMOUNT", `${what} must be more than zero`);
  return amount;
}

/** 12500000000000000n with `decimals` 18 → "0.0125"; exact. */
export function formatUnits(value, decimals) {
  const digits = BigInt(value).toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, -decimals);
  const fraction = digits.slice(-decimals).replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

export const ether = (wei) => `${formatUnits(wei, 18)} ETH`;
/** Grams as kg with three decimals, as the API writes them: 2000n → "2.000". */
export const kg = (grams) => {
  const digits = BigInt(grams).toString().padStart(4, "0");
  return `${digits.slice(0, -3)}.${digits.slice(-3)}`;
};
/** Grams as a number of kg for a chart (a chart's scale is not money: it may be a float). */
export const kgForChart = (grams) => Number(BigInt(grams)) / 1000;
export const short = (hex) => `${hex.slice(0, 8)}…${hex.slice(-4)}`;

// -- the wallet -------------------------------------------------------------------------------------

export function wallet() {
  if (!window.ethereum) {
    throw new UserError("NO_WALLET", "No wallet in this browser: install one (MetaMask, say), or paste an address");
  }
  return window.ethereum;
}

export async function connectWallet() {
  const accounts = await walletRequest("eth_requestAccounts", []);
  if (!accounts?.length) throw new UserError("NO_ACCOUNT", "The wallet shared no account");
  await checkNetwork();
  return accounts[0];
}

export async function checkNetwork() {
  const { chainId } = await config();
  const walletChain = Number(BigInt(await walletRequest("eth_chainId", [])));
  if (walletChain !== chainId) {
    throw new UserError(
      "WRONG_NETWORK",
      `The wallet is on chain ${walletChain}; switch it to chain ${chainId}, where the registry is`,
    );
  }
}

async function walletRequest(method, params) {
  try {
    return await wallet().request({ method, params });
  } catch (error) {
    if (error?.code === 4001) {
      throw new UserError("WALLET_REJECTED", "You declined in your wallet: nothing was signed or sent");
    }
    if (error instanceof UserError) throw error;
    throw new UserError("WALLET_FAILED", `The wallet failed: ${error?.message ?? error}`);
  }
}

/** Ask the wallet to sign and send a transaction the API prepared; follow it until mined. Once the
 * wallet has sent it, a failure to follow it says so with its hash: it must not be sent again. */
export async function sendPrepared(prepared) {
  await checkNetwork();
  const hex = (value) => `0x${BigInt(value).toString(16)}`;
  const tx = prepared.transaction;
  const hash = await walletRequest("eth_sendTransaction", [
    {
      from: tx.from,
      to: tx.to,
      data: tx.data,
      value: hex(tx.value),
      gas: hex(tx.gas),
      maxFeePerGas: hex(tx.maxFeePerGas),
      maxPriorityFeePerGas: hex(tx.maxPriorityFeePerGas),
      chainId: hex(tx.chainId),
    },
  ]);
  return waitForTransaction(hash);
}

export async function waitForTransaction(hash, { timeoutMs = 120_000 } = {}) {
  const until = Date.now() + timeoutMs;
  let lastError = null;
  while (Date.now() < until) {
    try {
      const status = await api(`/v1/transactions/${hash}`);
      if (status.status === "succeeded") return status;
      if (status.status === "reverted") {
        throw new UserError("TRANSACTION_REVERTED", `The transaction ${hash} reverted on chain: nothing changed`);
      }
    } catch (error) {
      if (error.code === "TRANSACTION_REVERTED") throw error;
      lastError = error; // the backend may be restarting: keep following
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const why = lastError ? `: ${lastError.message}` : "";
  throw new UserError(
    "SENT_NOT_CONFIRMED",
    `Your wallet sent the transaction ${hash}, but it could not be followed${why}. Do not send it again: check it later`,
  );
}

/** Wait until the index has seen `block` (the API answers from it). */
export async function waitForIndex(block) {
  for (let tries = 0; tries < 60; tries += 1) {
    if ((await api("/health")).indexedBlock >= block) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

// -- the page ---------------------------------------------------------------------------------------

export function showError(where, error) {
  const box = document.querySelector(where);
  box.hidden = false;
  box.dataset.code = error.code ?? "ERROR";
  box.textContent = error.code ? `${error.message} (${error.code})` : String(error.message ?? error);
}

export function clearError(where) {
  const box = document.querySelector(where);
  box.hidden = true;
  box.textContent = "";
  delete box.dataset.code;
}

/** A button that runs `action` once at a time, its errors shown in `errorBox`. */
export function onClick(button, errorBox, action) {
  document.querySelector(button).addEventListener("click", async (event) => {
    const target = event.currentTarget;
    target.disabled = true;
    clearError(errorBox);
    try {
      await action();
    } catch (error) {
      showError(errorBox, error);
    } finally {
      target.disabled = false;
    }
  });
}

export function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

export function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

export function barChart(canvas, labels, datasets, { stacked = false, yTitle = "kg" } = {}) {
  const existing = window.Chart.getChart(canvas);
  if (existing) existing.destroy();
  return new window.Chart(canvas, {
    type: "bar",
    data: { labels, datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: { x: { stacked }, y: { stacked, beginAtZero: true, title: { display: true, text: yTitle } } },
    },
  });
}

export const COLOURS = { ev: "#2f9e44", carFree: "#1971c2", retired: "#e8590c", price: "#7048e8", drivers: "#495057" };
