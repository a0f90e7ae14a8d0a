"""An urgent SLA policy on the 24×7 calendar: a production outage filed at night is due within
the hour, not the next business morning."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from test_sla import CFG, make_request, ny

from idqueue.config import SlaConfig, SlaPolicy
from idqueue.domain.sla import compute_sla

OUTAGE = {"impacts_production": "Yes"}
NIGHT = ny(2026, 3, 2, 23, 0)  # Monday 11 pm in New York, outside business hours


def _policies(calendar: str | None) -> SlaConfig:
    urgent = SlaPolicy(name="Urgent (production)", impacts_production=True, first_response=1.0, calendar=calendar)  # type: ignore[arg-type]
    return CFG.model_copy(update={"policies": [urgent, *CFG.policies[1:]]})


def test_business_hours_policy_pauses_overnight() -> None:
    sla = compute_sla(make_request(created=NIGHT, fields=OUTAGE), [], _policies(None), now=NIGHT + timedelta(hours=2))
    assert sla.state == "ok" and sla.first_response_due == ny(2026, 3, 3, 10, 0)


def test_24x7_policy_runs_through_the_night() -> None:
    cfg = _policies("24x7")
    assert cfg.policies[0].first_response_calendar == "24x7" and cfg.policies[0].resolution_calendar == "24x7"
    sla = compute_sla(make_request(created=NIGHT, fields=OUTAGE), [], cfg, now=NIGHT + timedelta(minutes=50))
    assert sla.policy == "Urgent (production)"
    assert sla.first_response_due == NIGHT + timedelta(hours=1)
    assert sla.state == "at_risk"
    late = compute_sla(make_request(created=NIGHT, fields=OUTAGE), [], cfg, now=NIGHT + timedelta(hours=2))
    assert late.state == "breached"


def test_calendar_shorthand_in_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from idqueue.config import load_settings

    config = tmp_path / "config.toml"
    config.write_text('[[sla.policies]]\nname = "Urgent"\npriorities = ["P1"]\nfirst_response = 1\ncalendar = "24x7"\n')
    for key in [k for k in os.environ if k.startswith("IDQUEUE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(config))
    policy = load_settings().sla.policies[0]
    assert (policy.first_response_calendar, policy.resolution_calendar) == ("24x7", "24x7")
