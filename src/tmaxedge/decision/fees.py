"""Kalshi's trading fee: the one place its rule is written.

A trade of ``C`` contracts at ``P`` dollars pays ``rate * C * P * (1 - P)`` dollars, rounded up
to the next cent. In cents (``p`` = price in cents) that is
``ceil(rate * C * p * (100 - p) / 100)``. :func:`fee_cents` is the fee a fill is charged;
:func:`fee_per_contract_cents` the same rule unrounded, for ranking and sizing an order before its
size (and so its rounding) is known.
"""

from __future__ import annotations

import numpy as np

CENTS_PER_DOLLAR = 100
RATE_DECIMALS = 6  # rates are taken to 6 decimals so the round-up is exact integer math
_RATE_SCALE = 10**RATE_DECIMALS


def _fee_numerator(rate, contracts, price_cents):
    """``rate * C * p * (100 - p)``: the fee in cents times ``CENTS_PER_DOLLAR``.

    The single statement of the rule. Multiplied left to right: integers stay exact, and the
    floats of :func:`fee_per_contract_cents` round exactly as the backtest's always have (a last
    bit moved would move a Kelly size that sits on a whole contract).
    """
    return rate * contracts * price_cents * (CENTS_PER_DOLLAR - price_cents)


def rate_units(rate) -> np.ndarray:
    """``rate`` in millionths, as int64 (round half to even, like Python's ``round``)."""
    return np.rint(np.asarray(rate, dtype=float) * _RATE_SCALE).astype(np.int64)


def fee_cents(contracts, price_cents, rate):
    """The fee charged, in whole cents: ``ceil(rate * C * P * (1 - P))`` dollars, ``P`` in dollars.

    Integer arithmetic (``rate`` taken to 6 decimals), so a fee that is exactly a whole cent is
    not bumped up by float error. Scalars give an ``int``; arrays (broadcast together, ``rate``
    included) an int64 array. Example: 10 contracts at 50¢ and 0.07 pay ``ceil(17.5) = 18``¢;
    1 contract at 1¢ pays ``ceil(0.0693) = 1``¢.
    """
    contracts = np.asarray(contracts, dtype=np.int64)
    price = np.asarray(price_cents, dtype=np.int64)
    scaled = _fee_numerator(rate_units(rate), contracts, price)
    fee = -(-scaled // (_RATE_SCALE * CENTS_PER_DOLLAR))  # ceiling division of integers
    return int(fee) if fee.ndim == 0 else fee


def fee_per_contract_cents(price_cents, rate):
    """The fee of one contract in cents before rounding (float, vectorised over both arguments).

    The rounded fee of an order depends on its size, which is chosen after the side and the edge:
    those are judged on this unrounded fee, and the size is then checked with :func:`fee_cents`.
    """
    return _fee_numerator(rate, 1, price_cents) / CENTS_PER_DOLLAR
