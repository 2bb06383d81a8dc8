"""Alerts that reach a person (isletflow/alerts.py): the deadline arithmetic and the settings
(pure), the notification templates rendered by Prefect's own template engine, and end to end:
a real Failed run of the deployment `nightly/nightly` on a real Prefect server, and the
notifications a local HTTP receiver and a local SMTP receiver (aiosmtpd) get."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import queue
import shutil
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from isletflow.status import check as check_status
from isletflow.alerts import (TAG, AlertSettings, EmailSettings, deadline_body,
                              deadline_within, describe, failed_body, failed_subject,
                              first_deadline_after, scheduled_starts)

TORONTO = ZoneInfo("America/Toronto")


# --- the deadline: elapsed time from a scheduled start to the first deadline after it -----

def test_nightly_0230_to_0700_toronto_is_4h30_in_winter_and_summer():
    winter = dt.datetime(2026, 1, 15, 2, 30, tzinfo=TORONTO)  # EST, UTC-5
    summer = dt.datetime(2026, 7, 15, 2, 30, tzinfo=TORONTO)  # EDT, UTC-4
    for start in (winter, summer):
        assert first_deadline_after(start, dt.time(7), "America/Toronto") == \
            start.replace(hour=7, minute=0)
    assert deadline_within([winter, summer], dt.time(7), "America/Toronto") == \
        dt.timedelta(hours=4, minutes=30)


def test_a_deadline_already_passed_is_the_next_days():
    start = dt.datetime(2026, 1, 15, 22, 0, tzinfo=TORONTO)
    assert first_deadline_after(start, dt.time(7), "America/Toronto") == \
        dt.datetime(2026, 1, 16, 7, 0, tzinfo=TORONTO)
    assert deadline_within([start], dt.time(7), "America/Toronto") == dt.timedelta(hours=9)


def test_a_utc_schedule_with_a_toronto_deadline_takes_the_longer_winter_window():
    # 03:00 UTC; 07:00 Toronto is 12:00 UTC in winter (EST) and 11:00 UTC in summer (EDT)
    winter = dt.datetime(2026, 1, 15, 3, 0, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 15, 3, 0, tzinfo=dt.UTC)
    assert deadline_within([winter], dt.time(7), "America/Toronto") == dt.timedelta(hours=9)
    assert deadline_within([summer], dt.time(7), "America/Toronto") == dt.timedelta(hours=8)
    assert deadline_within([winter, summer], dt.time(7), "America/Toronto") == \
        dt.timedelta(hours=9)  # never before 07:00; an hour after it in summer


def test_the_night_clocks_go_forward_prefect_starts_0230_at_0330_edt():
    """2026-03-08 (second Sunday of March): Toronto goes from 02:00 EST to 03:00 EDT, so
    02:30 does not exist; Prefect's scheduler starts that night's run at 03:30 EDT (07:30
    UTC), 3 h 30 min before 07:00 EDT, and the nights around it at 02:30 (4 h 30 min)."""
    from prefect.client.schemas.schedules import CronSchedule

    starts = scheduled_starts([CronSchedule(cron="30 2 * * *", timezone="America/Toronto")],
                              dt.datetime(2026, 3, 7, tzinfo=dt.UTC), n=3)
    assert starts == [dt.datetime(2026, 3, 7, 7, 30, tzinfo=dt.UTC),   # 02:30 EST
                      dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC),   # 03:30 EDT
                      dt.datetime(2026, 3, 9, 6, 30, tzinfo=dt.UTC)]   # 02:30 EDT
    assert [first_deadline_after(s, dt.time(7), "America/Toronto") - s for s in starts] == \
        [dt.timedelta(hours=4, minutes=30), dt.timedelta(hours=3, minutes=30),
         dt.timedelta(hours=4, minutes=30)]
    assert deadline_within(starts, dt.time(7), "America/Toronto") == \
        dt.timedelta(hours=4, minutes=30)
    assert describe(dt.timedelta(hours=4, minutes=30)) == "4 h 30 min"


def test_settings_from_the_environment():
    assert AlertSettings.from_env({}) == AlertSettings(None, dt.time(7), None)
    s = AlertSettings.from_env({"ISLETFLOW_ALERT_WEBHOOK_URL":
                                " https://hooks.example.org:8443/T0/B1/secret ",
                                "ISLETFLOW_ALERT_DEADLINE": "06:30",
                                "ISLETFLOW_ALERT_TIMEZONE": "Europe/Berlin"})
    assert (s.deadline, s.timezone) == (dt.time(6, 30), "Europe/Berlin")
    assert s.receiver() == "https://hooks.example.org:8443"  # never the path (a token)
    for env, name in (({"ISLETFLOW_ALERT_DEADLINE": "7am"}, "ISLETFLOW_ALERT_DEADLINE"),
                      ({"ISLETFLOW_ALERT_TIMEZONE": "Toronto"}, "ISLETFLOW_ALERT_TIMEZONE"),
                      ({"ISLETFLOW_ALERT_WEBHOOK_URL": "hooks.example.org/x"},
                       "ISLETFLOW_ALERT_WEBHOOK_URL")):
        with pytest.raises(ValueError, match=name):
            AlertSettings.from_env(env)


SMTP = {"ISLETFLOW_ALERT_SMTP_HOST": "smtp.example.org",
        "ISLETFLOW_ALERT_SMTP_USER": "alerts@example.org",
        "ISLETFLOW_ALERT_SMTP_PASSWORD": "pa ss",
        "ISLETFLOW_ALERT_SMTP_TO": " dm@example.org,oncall@example.org ,"}


def test_email_settings_from_the_environment():
    assert EmailSettings.from_env({}) is None
    assert EmailSettings.from_env({k: "" for k in SMTP}) is None  # empty counts as unset
    s = AlertSettings.from_env(SMTP)
    # STARTTLS on its port 587 by default; the sender is the login when that is an address;
    # the password kept as given (spaces included) and left out of the repr
    assert s.webhook_url is None
    assert s.email == EmailSettings("smtp.example.org", 587, "starttls", "alerts@example.org",
                                    "pa ss", "alerts@example.org",
                                    ("dm@example.org", "oncall@example.org"))
    assert "pa ss" not in repr(s)
    assert s.receivers() == "2 e-mail address(es) via smtp.example.org:587 (starttls)"
    # the default port of each security; an explicit one; the case of the security ignored
    for security, port in (("SSL", 465), ("none", 25)):
        e = EmailSettings.from_env({"ISLETFLOW_ALERT_SMTP_HOST": "10.0.0.5",
                                    "ISLETFLOW_ALERT_SMTP_SECURITY": security,
                                    "ISLETFLOW_ALERT_SMTP_FROM": "trial@example.org",
                                    "ISLETFLOW_ALERT_SMTP_TO": "dm@example.org"})
        assert (e.security, e.port, e.username, e.password) == (security.lower(), port,
                                                                None, None)
    e = EmailSettings.from_env({**SMTP, "ISLETFLOW_ALERT_SMTP_PORT": "2525",
                                "ISLETFLOW_ALERT_SMTP_FROM": "trial@example.org"})
    assert (e.port, e.from_address) == (2525, "trial@example.org")
    both = AlertSettings.from_env({**SMTP, "ISLETFLOW_ALERT_WEBHOOK_URL":
                                   "https://hooks.example.org/T0/secret"})
    assert both.receivers() == ("https://hooks.example.org and 2 e-mail address(es) via "
                                "smtp.example.org:587 (starttls)")


@pytest.mark.parametrize("change, message", [
    ({"ISLETFLOW_ALERT_SMTP_PORT": "587a"},
     "ISLETFLOW_ALERT_SMTP_PORT='587a' is not a port number (1-65535)"),
    ({"ISLETFLOW_ALERT_SMTP_PORT": "70000"},
     "ISLETFLOW_ALERT_SMTP_PORT='70000' is not a port number (1-65535)"),
    ({"ISLETFLOW_ALERT_SMTP_SECURITY": "tls"},
     "ISLETFLOW_ALERT_SMTP_SECURITY='tls' is not one of starttls, ssl, none"),
    ({"ISLETFLOW_ALERT_SMTP_HOST": ""},
     "ISLETFLOW_ALERT_SMTP_USER, ISLETFLOW_ALERT_SMTP_PASSWORD, ISLETFLOW_ALERT_SMTP_TO set "
     "but ISLETFLOW_ALERT_SMTP_HOST is not"),
    ({"ISLETFLOW_ALERT_SMTP_TO": " , "},
     "ISLETFLOW_ALERT_SMTP_TO (the recipients) is not set"),
    ({"ISLETFLOW_ALERT_SMTP_TO": "dm@example.org; oncall@example.org"},
     "ISLETFLOW_ALERT_SMTP_TO holds something that is not an e-mail address (local@domain.tld, "
     "comma-separated for several)"),
    ({"ISLETFLOW_ALERT_SMTP_PASSWORD": ""},
     "ISLETFLOW_ALERT_SMTP_USER and ISLETFLOW_ALERT_SMTP_PASSWORD go together: one is set "
     "without the other"),
    ({"ISLETFLOW_ALERT_SMTP_SECURITY": "none"},
     "ISLETFLOW_ALERT_SMTP_PASSWORD with ISLETFLOW_ALERT_SMTP_SECURITY=none would cross the "
     "network unencrypted: use starttls or ssl"),
    ({"ISLETFLOW_ALERT_SMTP_USER": "alerts", "ISLETFLOW_ALERT_SMTP_FROM": ""},
     "ISLETFLOW_ALERT_SMTP_FROM (the sender's address) is not set"),
    ({"ISLETFLOW_ALERT_SMTP_PASSWORD": "pässwörd"},  # smtplib would fail at 02:30, not now
     "ISLETFLOW_ALERT_SMTP_PASSWORD holds a character that is not ASCII: Python's smtplib "
     "logs in with ASCII only"),
    ({"ISLETFLOW_ALERT_SMTP_FROM": "Trial Alerts <alerts@example.org>"},
     "ISLETFLOW_ALERT_SMTP_FROM holds something that is not an e-mail address "
     "(local@domain.tld, comma-separated for several)"),
])
def test_email_settings_that_are_not_valid_say_which_variable_and_no_address(change, message):
    with pytest.raises(ValueError) as err:
        AlertSettings.from_env({**SMTP, **change})
    assert str(err.value) == message
    assert "example.org" not in str(err.value) and "pa ss" not in str(err.value)


def test_serve_stops_before_starting_anything_on_a_bad_smtp_setting(monkeypatch):
    from isletflow.serve import serve

    for k, v in {**SMTP, "ISLETFLOW_ALERT_SMTP_SECURITY": "starttls",
                 "ISLETFLOW_ALERT_SMTP_PORT": "smtp"}.items():
        monkeypatch.setenv(k, v)
    said = []
    assert serve(4299, say=said.append) == 2
    assert said == ["alerts: ISLETFLOW_ALERT_SMTP_PORT='smtp' is not a port number (1-65535); "
                    "nothing started"]


# --- the templates, rendered as the server renders them ----------------------------------

def _render(template: str, state: str, message: str | None, parse=json.loads):
    from prefect.server.events.actions import JinjaTemplateAction
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.server.utilities.user_templates import render_user_template_sync

    JinjaTemplateAction._register_filters_if_needed()
    event = ReceivedEvent(
        id=uuid.UUID("0190a1b2-0000-7000-8000-0000000000ee"),
        occurred=dt.datetime(2026, 1, 15, 7, 31, tzinfo=dt.UTC),
        event=f"prefect.flow-run.{state}",
        resource={"prefect.resource.id": "prefect.flow-run.0190a1b2-0000-7000-8000-000000000001",
                  "prefect.resource.name": "calm-otter", "prefect.state-name": state,
                  "prefect.state-message": message or "", "prefect.state-type": "FAILED",
                  "prefect.state-timestamp": "2026-01-15T07:31:00+00:00"})
    return parse(render_user_template_sync(template, {"event": event}))


def test_failed_body_is_json_with_the_first_line_of_the_error_only():
    body = _render(failed_body("nightly/nightly", "http://127.0.0.1:4200"), "Failed",
                   'Flow run encountered an exception: ValueError: "a" <b> & c\nsecond line\n')
    assert body == {
        "alert": "failed", "deployment": "nightly/nightly", "flow_run": "calm-otter",
        "state": "Failed", "time": "2026-01-15T07:31:00+00:00",
        "error": 'Flow run encountered an exception: ValueError: "a" <b> & c',
        "url": "http://127.0.0.1:4200/runs/flow-run/0190a1b2-0000-7000-8000-000000000001",
        "text": 'nightly/nightly: flow run calm-otter Failed at 2026-01-15T07:31:00+00:00: '
                'Flow run encountered an exception: ValueError: "a" <b> & c'}
    assert _render(failed_body("nightly/nightly", None), "Crashed", None)["error"] == ""


def test_failed_subject_is_one_line_with_the_run_and_its_state():
    assert _render(failed_subject("nightly/nightly"), "Crashed", "x\ny", parse=str) == \
        "isletflow: nightly/nightly: flow run calm-otter Crashed"


def test_deadline_body_names_the_deadline_and_the_state_the_night_began_in():
    body = _render(deadline_body("nightly/nightly", "07:00 America/Toronto",
                                 dt.timedelta(hours=4, minutes=30), None), "Late", "")
    assert body["alert"] == "not-completed-by-deadline"
    assert (body["flow_run"], body["last_state"], body["url"]) == ("calm-otter", "Late", None)
    assert body["text"] == ("nightly/nightly: no Completed run by 07:00 America/Toronto "
                            "(4 h 30 min after run calm-otter entered Late at "
                            "2026-01-15T07:31:00+00:00)")


# --- the e-mail block, with a local SMTP receiver ----------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_receiver():
    """An SMTP server on 127.0.0.1 (aiosmtpd, in a thread) that keeps every message it is
    given and accepts the login alerts@example.org / "pa ss" over the plain connection
    (auth_require_tls off: the block logs in whenever it has a username; the settings allow
    a password only with starttls or ssl). Yields (port, queue of (envelope, message))."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    got: queue.Queue = queue.Queue()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's)
            lf = envelope.content.replace(b"\r\n", b"\n")  # SMTP's line ends as Python's
            got.put((envelope, email.message_from_bytes(lf, policy=email.policy.default)))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, data):
        return AuthResult(success=isinstance(data, LoginPassword)
                          and (data.login, data.password) == (b"alerts@example.org", b"pa ss"),
                          handled=False)  # False: aiosmtpd answers a failure with 535

    controller = Controller(Handler(), hostname="127.0.0.1", port=_free_port(),
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    yield controller.port, got
    controller.stop()


def test_the_email_block_logs_in_and_sends_the_text_line_then_the_fields(smtp_receiver):
    from isletflow.alert_email import IsletflowEmail

    port, got = smtp_receiver
    fields = dict(host="127.0.0.1", port=port, security="none", username="alerts@example.org",
                  from_address="alerts@example.org",
                  to=["dm@example.org", "oncall@example.org"], timeout_s=5)
    block = IsletflowEmail(**fields, password="pa ss")
    block.notify('{"alert": "failed", "flow_run": "calm-otter", "url": null, '
                 '"text": "nightly/nightly: flow run calm-otter Failed"}',
                 subject="isletflow: nightly/nightly:\n flow run calm-otter Failed")
    envelope, msg = got.get(timeout=5)
    assert (envelope.mail_from, envelope.rcpt_tos) == \
        ("alerts@example.org", ["dm@example.org", "oncall@example.org"])
    assert msg["Subject"] == "isletflow: nightly/nightly: flow run calm-otter Failed"
    assert (msg["From"], msg["To"]) == ("alerts@example.org",
                                        "dm@example.org, oncall@example.org")
    assert msg.get_content() == ("nightly/nightly: flow run calm-otter Failed\n\n"
                                 "alert: failed\nflow_run: calm-otter\nurl: \n")
    # 7-bit on the wire: a server without 8BITMIME takes it too
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    # a wrong password: the server answers 535; inside raise_on_failure (as the automation's
    # SendNotification calls it) that is a NotificationError with the class and code only
    from prefect.blocks.abstract import NotificationError

    wrong = IsletflowEmail(**fields, password="nope")
    with wrong.raise_on_failure(), pytest.raises(NotificationError) as err:
        wrong.notify("body", subject="s")
    assert err.value.log == (f"e-mail via 127.0.0.1:{port} (none) not sent: "
                             "SMTPAuthenticationError: SMTP reply 535")
    assert got.empty()


# --- end to end ----------------------------------------------------------------------------

class _Receiver(BaseHTTPRequestHandler):
    got: queue.Queue

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.got.put((self.path, self.headers.get("Content-Type"), body.decode()))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    got: queue.Queue = queue.Queue()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("R", (_Receiver,), {"got": got}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook/T000/secret", got
    server.shutdown()
    server.server_close()


def _collect(got: queue.Queue, kinds: set[str], timeout_s: float) -> dict[str, tuple]:
    """The first request of each kind of alert (the body's "alert"), waiting up to
    ``timeout_s`` for all of them: (path, content type, parsed body, body text)."""
    found: dict[str, tuple] = {}
    deadline = time.monotonic() + timeout_s
    while kinds - found.keys():
        try:
            path, content_type, text = got.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {sorted(kinds - found.keys())} notification within "
                                 f"{timeout_s:.0f} s; got {sorted(found)}") from None
        body = json.loads(text)
        assert body["alert"] not in found, f"a second {body['alert']} notification: {text}"
        found[body["alert"]] = (path, content_type, body, text)
    return found


@pytest.mark.e2e
def test_a_failed_run_of_the_deployment_reaches_the_webhook_and_the_mailbox(
        tmp_path, receiver, smtp_receiver, deployed, record_property):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.settings import get_current_settings

    from isletflow.alerts import deadline_automation, sync_alerts
    from isletflow.serve import PROJECT

    t0 = time.monotonic()
    url, got = receiver
    smtp_port, mails = smtp_receiver
    api = str(get_current_settings().api.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISLETFLOW_ALERT_")}
    # both channels: the webhook, and e-mail to two addresses through the local SMTP receiver
    env.update({"PREFECT_API_URL": api, "ISLETFLOW_ALERT_WEBHOOK_URL": url,
                "ISLETFLOW_ALERT_SMTP_HOST": "127.0.0.1",
                "ISLETFLOW_ALERT_SMTP_PORT": str(smtp_port),
                "ISLETFLOW_ALERT_SMTP_SECURITY": "none",
                "ISLETFLOW_ALERT_SMTP_FROM": "isletflow@example.org",
                "ISLETFLOW_ALERT_SMTP_TO": "dm@example.org,oncall@example.org"})
    t_deploy = time.monotonic()
    said = sync_alerts(env)
    assert said.startswith("alerts to http://127.0.0.1:")
    assert f" and 2 e-mail address(es) via 127.0.0.1:{smtp_port} (no encryption): " in said
    assert said.endswith("any failed or crashed run of 3 deployment(s); no Completed run of "
                         "nightly/nightly by 07:00 America/Toronto (4 h 30 min after its night "
                         "starts)")
    with get_client(sync_client=True) as client:
        first = sorted(a.name for a in client.read_automations() if TAG in a.tags)
        sync_alerts(env)  # again, as every `make serve` does: nothing added
        again = [a for a in client.read_automations() if TAG in a.tags]
        assert sorted(a.name for a in again) == first
        # every deployment of prefect.yaml: failed or crashed; the one with an active
        # schedule: not completed by the deadline
        assert first == ["isletflow: nightly/nightly failed or crashed",
                         "isletflow: nightly/nightly not completed by the deadline",
                         "isletflow: nightly/nightly-dask failed or crashed",
                         "isletflow: nightly/nightly-islet-301 failed or crashed"]
        deadline = next(a for a in again if a.name.endswith("deadline"))
        assert deadline.trigger.within == dt.timedelta(hours=4, minutes=30)
        # the same trigger with the shortest window Prefect allows (10 s), so the test sees
        # a night that does not complete in time
        # one notification action per block: the webhook, then the e-mail
        assert all(len(a.actions) == 2 for a in again)
        block_ids = [action.block_document_id for action in deadline.actions]
        blocks = [client.read_block_document(b, include_secrets=False) for b in block_ids]
        assert [(b.name, b.block_type.slug) for b in blocks] == \
            [("isletflow-alert-webhook", "custom-webhook"),
             ("isletflow-alert-email", "isletflow-email")]
        # the webhook URL (its path may be a token) is a secret: not readable through the API
        assert url not in json.dumps(blocks[0].data, default=str)
        deployment_id = client.read_deployment_by_name("nightly/nightly").id
        short = deadline_automation(
            "nightly/nightly", deployment_id, block_ids,
            dt.timedelta(seconds=10), "the test's 10 s", None)
        short.name += " (test)"
        client.create_automation(short)

    # A run of the deployment, executed here by Prefect's flow engine (what a worker's flow
    # run process does, less the ~15 s of starting a worker and a process that imports the
    # flow): the states Pending, Running, Failed are set on the server, which emits the
    # events the automations see.
    from prefect.flow_engine import run_flow

    from flows.nightly import nightly

    # a trial file with one mistake: the run fails at its first step with a TrialError of
    # several lines, of which the notification carries the first only
    trial = tmp_path / "islet-101.toml"
    trial.write_text((PROJECT / "trials/islet-101.toml").read_text()
                     .replace('timezone = "Europe/Berlin"', 'timezone = "Europe/Berlln"'))
    shutil.copy(PROJECT / "trials/islet-101.redcap-dictionary.csv", tmp_path)
    run = run_deployment("nightly/nightly", timeout=0, parameters={
        "landing_dir": str(tmp_path / "landing"), "warehouse": str(tmp_path / "wh.duckdb"),
        "trial": str(trial)})
    with get_client(sync_client=True) as client:
        state = run_flow(nightly, flow_run=client.read_flow_run(run.id), return_type="state")
        t_run = time.monotonic()
        assert client.read_flow_run(run.id).state.type == StateType.FAILED
    assert (run.deployment_id, state.type) == (deployment_id, StateType.FAILED)
    # a night that failed before it reached the warehouse (its trial file) is still seen by
    # `isletflow status`: the run journal beside the warehouse has it (no night ever
    # published here, which it says first)
    code, line = check_status(tmp_path / "wh.duckdb", max_age=dt.timedelta(hours=26))
    assert code == 3 and line.startswith(f"no warehouse: {tmp_path / 'wh.duckdb'} does not "
                                         f"exist; last run {str(run.id)[:8]} failed "
                                         "(TrialError) at "), line

    try:
        received = _collect(got, {"failed", "not-completed-by-deadline"}, timeout_s=60)
        path, content_type, failed, text = received["failed"]
        assert (path, content_type) == ("/hook/T000/secret", "application/json")
        error = (f"Flow run encountered an exception: TrialError: {trial}: 1 mistake(s) in "
                 "the trial definition:")
        assert (failed["deployment"], failed["flow_run"], failed["state"]) == \
            ("nightly/nightly", run.name, "Failed")
        assert failed["error"] == error
        assert "Berlln" in state.message and "Berlln" not in text  # the second line
        assert failed["url"].endswith(f"/runs/flow-run/{run.id}")
        assert dt.datetime.fromisoformat(failed["time"]) == state.timestamp
        record_property("failed_notification", text)
        print("\nreceived (failed):", text)

        # the 10 s window opened when the run started (Running: no worker here to set
        # Pending) and closed without a Completed run
        _, _, late, text = received["not-completed-by-deadline"]
        assert (late["deadline"], late["flow_run"], late["last_state"]) == \
            ("the test's 10 s", run.name, "Running")
        record_property("deadline_notification", text)
        print("received (deadline):", text)

        # the same two by e-mail (sent by the server, which loaded the block class
        # isletflow.alert_email.IsletflowEmail through the prefect.collections entry point)
        by_subject = {}
        while len(by_subject) < 2:
            envelope, msg = mails.get(timeout=30)
            assert msg["Subject"] not in by_subject, f"a second e-mail: {msg['Subject']}"
            by_subject[msg["Subject"]] = (envelope, msg)
        subject = f"isletflow: nightly/nightly: flow run {run.name} Failed"
        envelope, msg = by_subject[subject]
        assert (envelope.mail_from, envelope.rcpt_tos) == \
            ("isletflow@example.org", ["dm@example.org", "oncall@example.org"])
        assert (msg["From"], msg["To"]) == ("isletflow@example.org",
                                            "dm@example.org, oncall@example.org")
        lines = msg.get_content().splitlines()
        assert lines[:3] == [failed["text"], "", "alert: failed"]
        assert f"flow_run: {run.name}" in lines and "state: Failed" in lines
        assert f"error: {error}" in lines and "Berlln" not in msg.get_content()
        record_property("failed_email", f"Subject: {subject}\n\n{msg.get_content()}")
        print(f"received (failed, e-mail):\nSubject: {subject}\n\n{msg.get_content()}")
        envelope, msg = by_subject["isletflow: nightly/nightly: no Completed run by the "
                                   "test's 10 s"]
        assert msg.get_content().splitlines()[:3] == [late["text"], "",
                                                      "alert: not-completed-by-deadline"]
        time.sleep(1)
        assert got.empty()  # one of each: the real deadline's 4 h 30 min window is open
        assert mails.empty()
    finally:
        with get_client(sync_client=True) as client:
            for a in client.read_automations():
                if a.name.endswith(" (test)"):
                    client.delete_automation(a.id)
        said = sync_alerts({k: v for k, v in env.items()
                            if not k.startswith("ISLETFLOW_ALERT_")})
    assert said == ("alerts: none configured (set ISLETFLOW_ALERT_WEBHOOK_URL, or "
                    "ISLETFLOW_ALERT_SMTP_HOST and ISLETFLOW_ALERT_SMTP_TO, to be notified of a "
                    "failed run or a night not completed by its deadline); removed 4 earlier "
                    "isletflow automation(s)")
    # and the blocks with their secrets
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for block_id in block_ids:
            with pytest.raises(ObjectNotFound):
                client.read_block_document(block_id)
    print(f"test_alerts end to end: {time.monotonic() - t0:.1f} s (deploy "
          f"{t_deploy - t0:.1f} s, alerts and the failed run {t_run - t_deploy:.1f} s)")


# --- the webhook URL kept out of the logs of the server and worker `isletflow serve` starts --

SLACK_URL = "https://Hooks.Slack.com/services/T000/B000/Zq7SecretTok3n"


def _status_error(url: str):
    """The error Prefect's CustomWebhookNotificationBlock raises when the webhook answers 404
    (``resp.raise_for_status()``), with its traceback."""
    import httpx

    try:
        httpx.Response(404, request=httpx.Request("POST", url)).raise_for_status()
    except httpx.HTTPStatusError as err:
        return err
    raise AssertionError("raise_for_status did not raise for a 404")


def test_a_short_path_is_redacted_only_as_part_of_the_url():
    """A gateway URL ending in /api: the whole URL is hidden, but /api alone (in every line
    of the server's own requests) is no secret; a hook's 60-character token path is."""
    from isletflow.alerts import secret_forms

    assert secret_forms("http://10.0.0.5:8025/api") == {
        "http://10.0.0.5:8025/api": "http://10.0.0.5:8025/[redacted]"}
    forms = secret_forms("https://hooks.example.org/services/T000/B000/a1b2c3d4e5f6g7h8")
    assert forms["/services/T000/B000/a1b2c3d4e5f6g7h8"] == "[redacted]"


def test_the_filter_takes_the_webhook_url_out_of_message_and_traceback(monkeypatch):
    import io
    import logging

    from isletflow.alerts import RedactSecrets

    monkeypatch.setenv("ISLETFLOW_ALERT_WEBHOOK_URL", SLACK_URL)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecrets())  # reads ISLETFLOW_ALERT_WEBHOOK_URL when made
    logger = logging.getLogger("isletflow.test_alerts.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        err = _status_error(SLACK_URL)
        try:
            raise err
        except Exception:
            logger.exception("POST to %s failed", SLACK_URL)
        logger.warning("path %s", "/services/T000/B000/Zq7SecretTok3n")
        clean = logging.LogRecord("x", logging.ERROR, __file__, 1, "run %s failed", ("a",),
                                  (type(err), err, err.__traceback__))
        handler.handle(clean)
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "Zq7SecretTok3n" not in text
    # httpx prints the host in lower case: that form is replaced as well
    assert str(err).startswith("Client error '404 Not Found' for url "
                               "'https://hooks.slack.com/services/T000/B000/Zq7SecretTok3n'")
    assert text.startswith("ERROR POST to https://hooks.slack.com/[redacted] failed\n"
                           "Traceback (most recent call last):\n")
    assert ("httpx.HTTPStatusError: Client error '404 Not Found' for url "
            "'https://hooks.slack.com/[redacted]'\n") in text
    assert "WARNING path [redacted]\n" in text
    # the same exception logged when the filter was made with no URL in the environment:
    # nothing to hide, the record is left as it was
    monkeypatch.delenv("ISLETFLOW_ALERT_WEBHOOK_URL")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "POST to %s failed",
                               (SLACK_URL,), (type(err), err, err.__traceback__))
    assert RedactSecrets().filter(record) is True
    assert (record.msg, record.args, record.exc_info[1], record.exc_text) == \
        ("POST to %s failed", (SLACK_URL,), err, None)


def test_the_filter_takes_the_smtp_password_out_of_message_and_traceback(monkeypatch):
    import logging

    from isletflow.alerts import RedactSecrets

    monkeypatch.setenv("ISLETFLOW_ALERT_SMTP_PASSWORD", "Xy7 secret!")
    monkeypatch.delenv("ISLETFLOW_ALERT_WEBHOOK_URL", raising=False)
    try:
        raise RuntimeError("login with Xy7 secret! refused")
    except RuntimeError as err:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "password %s",
                                   ("Xy7 secret!",), (type(err), err, err.__traceback__))
    assert RedactSecrets().filter(record) is True
    assert (record.getMessage(), record.exc_info) == ("password [redacted]", None)
    assert record.exc_text.endswith("RuntimeError: login with [redacted] refused")


def test_serve_logging_config_is_prefects_own_with_the_filter_on_every_handler(tmp_path):
    import yaml
    from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH
    from prefect.settings import PREFECT_HOME, temporary_settings

    from isletflow.alerts import redacting_logging_config, redacting_logging_env

    prefects = yaml.safe_load(DEFAULT_LOGGING_SETTINGS_PATH.read_text())
    ours = redacting_logging_config()
    # Prefect 3.9.1's logging.yml has these four handlers; each keeps all its settings
    assert sorted(ours["handlers"]) == ["api", "console", "debug", "worker_api"]
    for name, handler in ours["handlers"].items():
        assert handler.pop("filters") == ["redact_secrets"]
        assert handler == prefects["handlers"][name]
    assert ours.pop("filters") == {"redact_secrets": {"()": "isletflow.alerts.RedactSecrets"}}
    assert ours == {**prefects, "handlers": ours["handlers"]}
    assert ours["loggers"]["prefect.server"] == {"level": "${PREFECT_SERVER_LOGGING_LEVEL}"}

    said = []
    with temporary_settings(updates={PREFECT_HOME: tmp_path}):
        env = redacting_logging_env(say=said.append)
        assert env == {"PREFECT_LOGGING_CONFIG_PATH": str(tmp_path / "isletflow-logging.yml")}
        assert said == []
        assert yaml.safe_load((tmp_path / "isletflow-logging.yml").read_text()) == \
            redacting_logging_config()
        # the user's own logging file (PREFECT_HOME/logging.yml, Prefect's default path) wins
        (tmp_path / "logging.yml").write_text("version: 1\n")
        assert redacting_logging_env(say=said.append) == {}
    assert said == [f"logging: Prefect uses your {tmp_path / 'logging.yml'}; add the filter "
                    "isletflow.alerts.RedactSecrets to its handlers to keep "
                    "ISLETFLOW_ALERT_WEBHOOK_URL and ISLETFLOW_ALERT_SMTP_PASSWORD out of the "
                    "server's log"]


def test_a_prefect_process_with_the_serve_config_logs_the_consume_loop_error_redacted(tmp_path):
    """A new Python process sets up logging as the server's does (``setup_logging``, called
    by the ``prefect`` command and the server's ``create_app``, loads the file named by
    PREFECT_LOGGING_CONFIG_PATH) and logs what Prefect 3.9.1's in-memory message consumer
    logs when a notification's webhook answers 404."""
    import subprocess
    import sys

    from prefect.settings import PREFECT_HOME, temporary_settings

    from isletflow.alerts import redacting_logging_env

    url = "http://127.0.0.1:8099/services/T000/B000/Zq7SecretTok3n"
    with temporary_settings(updates={PREFECT_HOME: tmp_path}):
        env = {**os.environ, "PREFECT_HOME": str(tmp_path),
               "ISLETFLOW_ALERT_WEBHOOK_URL": url, **redacting_logging_env()}
    code = ("import logging, httpx\n"
            "from prefect.logging.configuration import setup_logging\n"
            "setup_logging()\n"
            f"r = httpx.Response(404, request=httpx.Request('POST', {url!r}))\n"
            "try:\n    r.raise_for_status()\nexcept Exception:\n"
            "    logging.getLogger('prefect.server.utilities.messaging.memory')"
            ".exception('Failed in consume_loop')\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Zq7SecretTok3n" not in out.stdout + out.stderr
    # Prefect's console format, then the traceback with the URL's path hidden
    assert " | ERROR   | prefect.server.utilities.messaging.memory - Failed in consume_loop\n" \
        in out.stderr
    assert ("httpx.HTTPStatusError: Client error '404 Not Found' for url "
            "'http://127.0.0.1:8099/[redacted]'") in out.stderr
