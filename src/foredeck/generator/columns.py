"""One column generator per field type.

Every generator can do two things: draw n random values from a numpy Generator, and map
integer codes to values one-to-one (`coded`). Unique fields use the second: each row's global
index goes through a keyed permutation of [0, capacity), so values never repeat across chunks
and a regenerated chunk gets the same values, with no shared state between chunks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foredeck.generator.schemas import FieldSpec

EPOCH = date(1970, 1, 1)
DEFAULT_DATE_RANGE = (date(2000, 1, 1), date(2025, 12, 31))
MAX_CAPACITY = 2**64
BASE62 = pa.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
HEX = pa.array([f"{i:02x}" for i in range(256)])


class ColumnError(ValueError):
    """A field's constraints cannot be generated (the validator reports these as issues)."""


def parse_date(value: int | float | str | None, default: date) -> date:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ColumnError("must be an ISO date such as 2024-01-31")
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ColumnError(f"{value!r} is not an ISO date") from exc


def parse_datetime(value: int | float | str | None, default: datetime) -> datetime:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ColumnError("must be an ISO datetime such as 2024-01-31T12:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ColumnError(f"{value!r} is not an ISO datetime") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(value: int | float | str | None, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ColumnError(f"{what} must be a number")
    return float(value)


class Column:
    """Base: capacity() distinct values, random(rng, n) and coded(codes)."""

    arrow_type: pa.DataType = pa.string()
    # Why unique cannot be kept, when capacity() says None for a reason other than the type.
    unique_note: str | None = None

    def __init__(self, spec: FieldSpec, locale: str) -> None:
        self.spec = spec
        self.locale = spec.locale or locale

    def capacity(self) -> int | None:
        """How many distinct values exist; None when unique is not supported for the type."""
        return None

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        cap = self.capacity()
        assert cap is not None
        return self.coded(rng.integers(0, min(cap, 2**63), n, dtype=np.uint64))

    def coded(self, codes: np.ndarray) -> pa.Array:
        raise NotImplementedError


class IntegerColumn(Column):
    arrow_type = pa.int64()

    def __init__(self, spec: FieldSpec, locale: str) -> None:
        super().__init__(spec, locale)
        lo = _number(spec.min, "min")
        hi = _number(spec.max, "max")
        if lo is None:
            lo = 0.0 if hi is None or hi >= 0 else hi - 1_000_000
        if hi is None:
            hi = lo + 1_000_000
        self.lo, self.hi = int(np.ceil(lo)), int(np.floor(hi))
        if self.lo > self.hi:
            raise ColumnError(f"min {spec.min} is above max {spec.max}")
        if abs(self.lo) >= 2**62 or abs(self.hi) >= 2**62:
            raise ColumnError("min and max must stay within ±4.6e18")

    def capacity(self) -> int:
        return self.hi - self.lo + 1

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        if self.spec.distribution == "normal":
            mean = self.spec.mean if self.spec.mean is not None else (self.lo + self.hi) / 2
            std = self.spec.std or max((self.hi - self.lo) / 6, 1e-9)
            values = np.clip(np.rint(rng.normal(mean, std, n)), self.lo, self.hi)
            return pa.array(values.astype(np.int64))
        return pa.array(rng.integers(self.lo, self.hi, n, endpoint=True, dtype=np.int64))

    def coded(self, codes: np.ndarray) -> pa.Array:
        return pa.array(codes.astype(np.int64) + np.int64(self.lo))


class FloatColumn(Column):
    arrow_type = pa.float64()
    default_precision: int | None = None

    def __init__(self, spec: FieldSpec, locale: str) -> None:
        super().__init__(spec, locale)
        lo = _number(spec.min, "min")
        hi = _number(spec.max, "max")
        self.lo = lo if lo is not None else (0.0 if hi is None or hi >= 0 else hi - 1000.0)
        self.hi = hi if hi is not None else self.lo + 1000.0
        if self.lo > self.hi:
            raise ColumnError(f"min {spec.min} is above max {spec.max}")
        self.precision = spec.precision if spec.precision is not None else self.default_precision

    def capacity(self) -> int:
        scale = 10 ** (self.precision if self.precision is not None else 6)
        return int(np.floor((self.hi - self.lo) * scale)) + 1

    def _values(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.spec.distribution == "normal":
            mean = self.spec.mean if self.spec.mean is not None else (self.lo + self.hi) / 2
            std = self.spec.std or max((self.hi - self.lo) / 6, 1e-9)
            values = np.clip(rng.normal(mean, std, n), self.lo, self.hi)
        else:
            values = rng.uniform(self.lo, self.hi, n)
        if self.precision is not None:
            values = np.clip(np.round(values, self.precision), self.lo, self.hi)
        return values

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        return pa.array(self._values(rng, n))

    def coded(self, codes: np.ndarray) -> pa.Array:
        digits = self.precision if self.precision is not None else 6
        return pa.array(np.round(self.lo + codes.astype(np.float64) / 10**digits, digits))


class DecimalColumn(FloatColumn):
    default_precision = 2

    def __init__(self, spec: FieldSpec, locale: str) -> None:
        super().__init__(spec, locale)
        assert self.precision is not None
        self.arrow_type = pa.decimal128(18, self.precision)
        if max(abs(self.lo), abs(self.hi)) * 10**self.precision >= 10**18:
            raise ColumnError("min/max are too large for 18 significant digits")

    def _to_decimal(self, units: np.ndarray) -> pa.Array:
        # decimal128 stores the unscaled integer as two little-endian 64-bit words.
        words = np.empty((len(units), 2), dtype=np.int64)
        words[:, 0] = units
        words[:, 1] = np.where(units < 0, -1, 0)
        return pa.Array.from_buffers(self.arrow_type, len(units), [None, pa.py_buffer(words)])

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        assert self.precision is not None
        return self._to_decimal(np.rint(self._values(rng, n) * 10**self.precision).astype(np.int64))

    def coded(self, codes: np.ndarray) -> pa.Array:
        assert self.precision is not None
        base = round(self.lo * 10**self.precision)
        return self._to_decimal(codes.astype(np.int64) + np.int64(base))


class BooleanColumn(Column):
    arrow_type = pa.bool_()

    def capacity(self) -> int:
        return 2

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        return pa.array(rng.random(n) < self.spec.true_ratio)

    def coded(self, codes: np.ndarray) -> pa.Array:
        return pa.array(codes % np.uint64(2) == 1)


class DateColumn(Column):
    def __init__(self, spec: FieldSpec, locale: str) -> None:
        super().__init__(spec, locale)
        lo = parse_date(spec.min, DEFAULT_DATE_RANGE[0])
        hi = parse_date(spec.max, DEFAULT_DATE_RANGE[1])
        if lo > hi:
            raise ColumnError(f"min {lo} is after max {hi}")
        self.lo, self.hi = (lo - EPOCH).days, (hi - EPOCH).days
        self.arrow_type = pa.string() if spec.format else pa.date32()

    def capacity(self) -> int:
        return self.hi - self.lo + 1

    def _wrap(self, days: np.ndarray) -> pa.Array:
        values = pa.array(days.astype(np.int32), pa.date32())
        if self.spec.format:
            return pc.strftime(values.cast(pa.timestamp("s")), format=self.spec.format)
        return values

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        return self._wrap(rng.integers(self.lo, self.hi, n, endpoint=True))

    def coded(self, codes: np.ndarray) -> pa.Array:
        return self._wrap(codes.astype(np.int64) + self.lo)


class DatetimeColumn(DateColumn):
    def __init__(self, spec: FieldSpec, locale: str) -> None:
        Column.__init__(self, spec, locale)
        start = datetime.combine(DEFAULT_DATE_RANGE[0], time(), UTC)
        end = datetime.combine(DEFAULT_DATE_RANGE[1], time(23, 59, 59), UTC)
        lo, hi = parse_datetime(spec.min, start), parse_datetime(spec.max, end)
        if lo > hi:
            raise ColumnError(f"min {lo.isoformat()} is after max {hi.isoformat()}")
        self.lo, self.hi = int(lo.timestamp()), int(hi.timestamp())
        self.arrow_type = pa.string() if spec.format else pa.timestamp("s", tz="UTC")

    def _wrap(self, seconds: np.ndarray) -> pa.Array:
        values = pa.array(seconds.astype(np.int64), pa.timestamp("s", tz="UTC"))
        if self.spec.format:
            return pc.strftime(values, format=self.spec.format)
        return values


class UUIDColumn(Column):
    def capacity(self) -> int:
        return MAX_CAPACITY

    def _format(self, raw: np.ndarray) -> pa.Array:
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
        parts = [HEX.take(pa.array(raw[:, i])) for i in range(16)]
        groups = [parts[0:4], parts[4:6], parts[6:8], parts[8:10], parts[10:16]]
        joined = [pc.binary_join_element_wise(*g, "") for g in groups]
        return pc.binary_join_element_wise(*joined, "-")

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        return self._format(rng.integers(0, 256, (n, 16), dtype=np.uint8))

    def coded(self, codes: np.ndarray) -> pa.Array:
        # The 64 code bits go where the version and variant bits are not, so distinct codes
        # stay distinct; the remaining bytes come from the code too, to look random.
        raw = np.zeros((len(codes), 16), dtype=np.uint8)
        code_bytes = codes.astype(np.uint64).view(np.uint8).reshape(-1, 8)
        for dst, src in zip((0, 1, 2, 3, 4, 5, 7, 9), range(8), strict=True):
            raw[:, dst] = code_bytes[:, src]
        mixed = (codes.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)).view(np.uint8)
        mixed = mixed.reshape(-1, 8)
        for dst, src in zip((6, 8, 10, 11, 12, 13, 14, 15), range(8), strict=True):
            raw[:, dst] = mixed[:, src]
        return self._format(raw)


class ChoiceColumn(Column):
    def __init__(self, spec: FieldSpec, locale: str) -> None:
        super().__init__(spec, locale)
        if not spec.choices:
            raise ColumnError("a choice field needs a non-empty `choices` list")
        choices = spec.choices
        kinds = {type(c) for c in choices}
        if kinds == {bool}:
            self.values = pa.array(choices, pa.bool_())
        elif kinds <= {int} or (kinds <= {int, float} and float in kinds):
            self.values = pa.array(choices, pa.int64() if kinds == {int} else pa.float64())
        else:
            self.values = pa.array([str(c) for c in choices], pa.string())
        self.arrow_type = self.values.type
        self.p: np.ndarray | None = None
        if spec.weights is not None:
            if len(spec.weights) != len(choices):
                raise ColumnError(
                    f"weights has {len(spec.weights)} entries for {len(choices)} choices"
                )
            weights = np.asarray(spec.weights, dtype=np.float64)
            if (weights < 0).any() or not np.isfinite(weights).all() or weights.sum() <= 0:
                raise ColumnError("weights must be non-negative numbers with a positive sum")
            self.p = weights / weights.sum()

    def capacity(self) -> int:
        return len(self.values)

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        idx = rng.choice(len(self.values), n, p=self.p)
        return self.values.take(pa.array(idx))

    def coded(self, codes: np.ndarray) -> pa.Array:
        return self.values.take(pa.array(codes.astype(np.int64)))


class ReferenceColumn(Column):
    """Filled in by the engine from the referenced column of the same chunk."""

    def random(self, rng: np.random.Generator, n: int) -> pa.Array:
        raise NotImplementedError
