"""Two-factor login codes against a real pool.db (pyotp computes the authenticator's side)."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
import pytest

from pool_server.errors import UsageError
from pool_server.store import Store
from pool_server.totp import TwoFactor


@pytest.fixture
def tf(tmp_path: Path) -> TwoFactor:
    store = Store(tmp_path / "pool.db")
    factor = TwoFactor(store)
    factor.create_schema()
    yield factor
    store.close()


def _code(secret: str, offset_steps: int = 0) -> str:
    """The code `offset_steps` steps from now, made at least 2 s before the step ends: the
    pool checks it a moment later, and a step boundary in between would shift it by one
    (the previous step's code would then be two steps old and refused)."""
    totp = pyotp.TOTP(secret)
    left = totp.interval - time.time() % totp.interval
    if left < 2:
        time.sleep(left + 0.01)  # bounded: into the next step, which has ~30 s left
    return totp.at(time.time() + offset_steps * totp.interval)


def test_enrolment_needs_a_right_first_code(tf: TwoFactor) -> None:
    enrol = tf.begin("admin")
    assert enrol.uri.startswith("otpauth://totp/Ortak:admin?")
    assert "<svg" in enrol.qr_svg and "<script" not in enrol.qr_svg
    assert not tf.enrolled("admin")
    wrong = f"{(int(_code(enrol.secret)) + 1) % 1_000_000:06d}"
    with pytest.raises(UsageError, match="not right"):
        tf.confirm("admin", wrong)
    codes = tf.confirm("admin", _code(enrol.secret))
    assert tf.enrolled("admin")
    assert len(codes) == 10 and len(set(codes)) == 10
    assert tf.recovery_left("admin") == 10


def test_a_code_is_accepted_once_and_skew_is_bounded(tf: TwoFactor) -> None:
    enrol = tf.begin("admin")
    tf.confirm("admin", _code(enrol.secret, -1))  # the previous step confirms
    now = _code(enrol.secret)
    assert tf.verify("admin", now)
    assert not tf.verify("admin", now), "a replayed code must be refused"
    assert not tf.verify("admin", _code(enrol.secret, -3)), "a stale code must be refused"
    assert not tf.verify("admin", "12345"), "a malformed code must be refused"
    assert not tf.verify("nobody", now)


def test_recovery_codes_work_once_each(tf: TwoFactor) -> None:
    enrol = tf.begin("admin")
    codes = tf.confirm("admin", _code(enrol.secret))
    assert tf.verify("admin", codes[0].upper().replace("-", " "))
    assert not tf.verify("admin", codes[0])
    assert tf.recovery_left("admin") == 9
    tf.reset("admin")
    assert not tf.enrolled("admin")
    assert not tf.verify("admin", codes[1])


def test_an_enrolled_user_cannot_silently_re_enrol(tf: TwoFactor) -> None:
    enrol = tf.begin("admin")
    tf.confirm("admin", _code(enrol.secret))
    with pytest.raises(UsageError, match="already"):
        tf.begin("admin")
