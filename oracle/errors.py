"""Why the oracle refuses a report. Each reason has a stable code and a message a driver can act on.

A rejected report is an expected outcome, not a crash: the service catches `ReportRejected`, stores the
report with the code and message, and answers with them.
"""

from __future__ import annotations

from typing import ClassVar


class OracleError(Exception):
    """Base of the oracle's errors."""


class ReportRejected(OracleError):
    """A report the oracle will not credit."""

    code: ClassVar[str]

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{self.code}: {message}")


# -- signature ------------------------------------------------------------------------------------


class SignatureMalformed(ReportRejected):
    code = "SIGNATURE_MALFORMED"


class SignatureMalleable(ReportRejected):
    code = "SIGNATURE_MALLEABLE"

    def __init__(self) -> None:
        super().__init__("s is in the upper half of the curve order; sign again with a canonical (low-s) signature")


class SignatureInvalid(ReportRejected):
    code = "SIGNATURE_INVALID"


class WrongDomain(ReportRejected):
    code = "WRONG_DOMAIN"

    def __init__(self, field: str, claimed: object, expected: object) -> None:
        super().__init__(f"the report was signed for {field} {claimed}, this oracle verifies {field} {expected}")


class SignerMismatch(ReportRejected):
    code = "SIGNER_MISMATCH"

    def __init__(self, device: str, signer: str) -> None:
        super().__init__(
            f"the report names device {device} but its signature was made by {signer}: "
            "the report was altered after signing, or signed with another key or for another chain or registry"
        )


# -- device ---------------------------------------------------------------------------------------


class UnknownDevice(ReportRejected):
    code = "UNKNOWN_DEVICE"

    def __init__(self, device: str) -> None:
        super().__init__(f"device {device} is not registered")


class DeviceSuspended(ReportRejected):
    code = "DEVICE_SUSPENDED"

    def __init__(self, device: str) -> None:
        super().__init__(f"device {device} is suspended; its reports earn nothing until it is reactivated")


class VehicleNotEligible(ReportRejected):
    code = "VEHICLE_NOT_ELIGIBLE"

    def __init__(self, vehicle_class: str, methodologies: str) -> None:
        super().__init__(f"no methodology in use ({methodologies}) credits {vehicle_class} vehicles")


# -- time -----------------------------------------------------------------------------------------


class DayNotEnded(ReportRejected):
    code = "DAY_NOT_ENDED"

    def __init__(self, day: str, today: str) -> None:
        super().__init__(f"the report is for {day}, which has not ended yet (today is {today} UTC)")


class DayTooOld(ReportRejected):
    code = "DAY_TOO_OLD"

    def __init__(self, day: str, max_age_days: int, today: str) -> None:
        super().__init__(f"the report is for {day}, more than {max_age_days} days before today ({today} UTC)")


class DayConflict(ReportRejected):
    code = "DAY_CONFLICT"

    def __init__(self, day: str, accepted_digest: str) -> None:
        super().__init__(f"a different report for {day} was already accepted ({accepted_digest})")


class DayOutOfOrder(ReportRejected):
    code = "DAY_OUT_OF_ORDER"

    def __init__(self, day: str, last_day: str) -> None:
        super().__init__(f"the report is for {day}, but a report for the later day {last_day} was already accepted")


class SequenceNotIncreasing(ReportRejected):
    code = "SEQUENCE_NOT_INCREASING"

    def __init__(self, sequence: int, last_sequence: int) -> None:
        super().__init__(f"sequence {sequence} does not follow the last accepted sequence {last_sequence}")


# -- odometer and plausibility ---------------------------------------------------------------------


class OdometerReversed(ReportRejected):
    code = "ODOMETER_REVERSED"

    def __init__(self, start_m: int, end_m: int) -> None:
        super().__init__(f"the odometer ends the day at {end_m} m, below its start of {start_m} m")


class OdometerRollback(ReportRejected):
    code = "ODOMETER_ROLLBACK"

    def __init__(self, start_m: int, last_end_m: int) -> None:
        super().__init__(f"the odometer starts at {start_m} m, below the {last_end_m} m of the last accepted report")


class DistanceMismatch(ReportRejected):
    code = "DISTANCE_MISMATCH"

    def __init__(self, distance_m: int, odometer_m: int, tolerance_m: int) -> None:
        super().__init__(
            f"distance {distance_m} m differs from the odometer's {odometer_m} m by more than {tolerance_m} m"
        )


class DistanceImplausible(ReportRejected):
    code = "DISTANCE_IMPLAUSIBLE"

    def __init__(self, distance_m: int, max_m: int) -> None:
        super().__init__(f"{distance_m} m in one day is more than the plausible {max_m} m")


class EnergyImplausible(ReportRejected):
    code = "ENERGY_IMPLAUSIBLE"


class MovingTimeImplausible(ReportRejected):
    code = "MOVING_TIME_IMPLAUSIBLE"


class SpeedImplausible(ReportRejected):
    code = "SPEED_IMPLAUSIBLE"

    def __init__(self, distance_m: int, moving_s: int, max_kmh: int) -> None:
        super().__init__(
            f"{distance_m} m in {moving_s} s of moving averages {distance_m * 3.6 / moving_s:.0f} km/h, "
            f"more than the plausible {max_kmh} km/h"
        )
