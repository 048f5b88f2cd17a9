from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from hexbytes import HexBytes

from backend import relay
from backend.deps import (
    ApiOptions,
    Chain,
    Db,
    Decoder,
    GramsQuery,
    IdempotencyKey,
    Options,
    RequiredAddressQuery,
    TxHashPath,
    UintQuery,
)
from backend.errors import Unavailable
from backend.idempotency import answer_once
from backend.schemas import (
    PermitRelayedPublic,
    PermitTransferRequest,
    PermitTypedData,
    RelayedPublic,
    RelayRequest,
    TransactionStatusPublic,
)

router = APIRouter(tags=["relay"])

REFUSALS: dict[int | str, dict[str, Any]] = {
    409: {"description": "the chain or the node refuses it (the custom error is named)"},
    422: {"description": "not a transaction of this registry, or an invalid body"},
}


@router.post("/v1/transactions", status_code=202, response_model=RelayedPublic, responses=REFUSALS)
def relay_transaction(body: RelayRequest, db: Db, chain: Chain, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Broadcast a transaction signed by its sender (a prepared order, a listing, a retirement): it must
    be for this chain and one of the registry's contracts, and pass a static call. Answers at once with
    its hash; `GET /v1/transactions/{hash}` follows it."""
    raw = bytes(HexBytes(body.raw_transaction))

    def run() -> tuple[int, dict[str, Any]]:
        return 202, relay.relay_transaction(chain, raw).model_dump(mode="json")

    status, content = answer_once(db, idempotency_key, "transactions", body.model_dump_json(), run)
    return JSONResponse(content, status_code=status)


@router.get("/v1/transactions/{tx_hash}")
def read_transaction(tx_hash: TxHashPath, chain: Chain, decoder: Decoder) -> TransactionStatusPublic:
    """pending, succeeded (with the registry's events it emitted), reverted, or unknown to the node."""
    return relay.transaction_status(chain, decoder, tx_hash)


@router.get("/v1/permits/transfer")
def read_permit_to_sign(
    owner: RequiredAddressQuery, value: GramsQuery, deadline: UintQuery, chain: Chain, options: Options
) -> PermitTypedData:
    """The EIP-2612 permit an owner signs (eth_signTypedData_v4) so that the relayer moves `value` grams
    for them: the owner pays no gas. `deadline` is unix time."""
    return _relayer(options).permit_typed_data(chain, owner, value, deadline)


@router.post("/v1/permits/transfer", status_code=201, response_model=PermitRelayedPublic, responses=REFUSALS)
def relay_permit_transfer(
    body: PermitTransferRequest, db: Db, chain: Chain, options: Options, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Submit a signed permit and move the permitted grams from its owner to `to`, with the relayer's
    gas. Both are static-called first: a bad signature, an expired deadline or a used nonce is refused
    with the token's custom error, and nothing is sent."""
    relayer = _relayer(options)

    def run() -> tuple[int, dict[str, Any]]:
        return 201, relayer.transfer_with_permit(chain, body).model_dump(mode="json")

    status, content = answer_once(db, idempotency_key, "permits/transfer", body.model_dump_json(), run)
    return JSONResponse(content, status_code=status)


def _relayer(options: ApiOptions) -> relay.Relayer:
    if options.relayer is None:
        raise Unavailable(
            "RELAYER_NOT_CONFIGURED", "this backend relays no permits: BACKEND_RELAYER_PRIVATE_KEY is unset"
        )
    return options.relayer
