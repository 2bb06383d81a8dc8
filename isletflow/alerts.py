"""Alerts that reach a person: Prefect automations on the deployments of ``prefect.yaml``.

For every deployment of prefect.yaml found on the server, two automations (tag
``isletflow-alert``), each sending a notification through each configured Prefect
notification block (the webhook, the e-mail, or both):

- **failed**: a flow run of the deployment enters Failed, Crashed or TimedOut (a reactive
  trigger on the server's ``prefect.flow-run.<state>`` events, one firing per flow run);
- **not completed by the deadline** (deployments with an active schedule): no Completed run of
  the deployment by the set hour of the night (``ISLETFLOW_ALERT_DEADLINE``, 07:00 by default,
  in ``ISLETFLOW_ALERT_TIMEZONE``, by default the schedule's own zone: America/Toronto for
  ``nightly/nightly``).

How the deadline is kept (Prefect 3.9.1, self-hosted server, no extra package). A proactive
``EventTrigger`` cannot be pinned to a wall-clock hour: it counts events in a window of fixed
length (``within``) and fires when the window closes with fewer than ``threshold`` of them. So
the window is opened by the night itself and sized to end at the deadline:

- ``after``: the first ``prefect.flow-run.Pending`` (the worker took the scheduled run),
  ``prefect.flow-run.Late`` (no worker took it: the server's late-runs service marks it 15 s
  after its scheduled time), ``prefect.flow-run.AwaitingConcurrencySlot`` (the previous run
  still holds the deployment's slot) or ``prefect.flow-run.Running`` (a run executed without
  a worker, which sets no Pending) of any run of the deployment opens the window at the
  scheduled start, to the second (a worker may take a run up to its prefetch, 10 s, early);
  the later ones of the night leave the open window as it is;
- ``expect``: one ``prefect.flow-run.Completed`` of any run of the deployment (a retry of a
  failed night that completes in time counts);
- ``for_each``: the deployment (``related:deployment:prefect.resource.id``). Without a
  ``for_each`` the server opens a window for a proactive trigger at every evaluation,
  whatever ``after`` says (``evaluate_proactive_triggers`` → ``ensure_bucket`` with an empty
  key), and would fire every ``within`` all day;
- ``within``: the time from a scheduled start to the first deadline after it, the longest over
  the next 366 scheduled starts (:func:`deadline_within`). For ``nightly/nightly`` (02:30
  America/Toronto) and 07:00 America/Toronto that is 4 h 30 min on every night, as both
  hours are in the same zone and Toronto changes its clocks at 02:00, before 02:30. On the
  night clocks go forward 02:30 does not exist and Prefect starts the run at 03:30 EDT: the
  alert comes at 08:00 that night, an hour after the set hour. For a schedule in another zone
  than the deadline the two zones' offsets change on different days and the alert comes up to
  that difference (an hour) after the set hour, never before it (the longest window is used).

The window measures from the night's first event, so a night the server itself was down at
02:30 gets its deadline from when the server came back (the late-runs service then marks the
run Late); a night without a scheduled run (schedule paused or deleted, server down all
night) sends nothing: ``isletflow status`` from cron covers that. A run started by hand opens
a window as well: not completed within the same time after it started, it alerts too.

The notification goes through a ``CustomWebhookNotificationBlock`` (block
``isletflow-alert-webhook``) whose URL comes from ``ISLETFLOW_ALERT_WEBHOOK_URL`` and is kept in
the block's secrets (hidden in the UI and API). Prefect itself still prints it in one place:
when the webhook answers an HTTP error (a revoked Slack hook answers 404) the server logs
httpx's error, whose message is the full URL, with its traceback, on the first try and on
each of its three retries. The server and worker that ``isletflow serve`` starts log through
Prefect's default configuration plus the filter :class:`RedactSecrets`, which shows it as
``scheme://host[:port]/[redacted]`` (:func:`redacting_logging_env`); a server started
otherwise needs that filter in its own logging configuration.

The request is a POST of one JSON object: the kind of alert, the deployment, the flow run's
name, its state and when it entered it, the first line of the state message (the error) and
a link to the run, plus ``text``, one line with all of it (what Slack, Mattermost and Teams
incoming webhooks show). Nothing else from
the run: no parameters, logs or file content.

E-mail (optional, with or without the webhook): with ``ISLETFLOW_ALERT_SMTP_HOST`` set, each
automation has a second ``SendNotification`` action, through the block ``isletflow-alert-email``
of the class :class:`isletflow.alert_email.IsletflowEmail` (Prefect 3.9.1 has none for SMTP;
that module says how the server loads it), which sends the same notification as one e-mail:
subject ``isletflow: <deployment>: flow run <name> <state>`` (or ``... no Completed run by
<deadline>``), body the ``text`` line and then the JSON object's fields, one per line. Its
settings (:class:`EmailSettings`) come from ``ISLETFLOW_ALERT_SMTP_HOST``, ``_PORT``,
``_SECURITY``, ``_USER``, ``_PASSWORD`` (kept in the block as a secret, and hidden in the logs of
``isletflow serve`` like the webhook URL), ``_FROM`` and ``_TO``. The recipients' addresses are
never printed or logged by isletflow (personal data): only their number.

Re-running (``make serve``, ``isletflow alerts``) updates the automations in place (matched by
name among those tagged ``isletflow-alert``) and deletes tagged ones no longer wanted; with no
webhook set it deletes them all, so what is configured is what the environment says. The
automations are not owned by their deployment: ``prefect deploy`` deletes the automations a
deployment owns. A notification block no longer configured (its variables unset) is deleted
with them, so no stale secret stays on the server."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT = Path(__file__).resolve().parents[1]
TAG = "isletflow-alert"
BLOCK_NAME = "isletflow-alert-webhook"
EMAIL_BLOCK_NAME = "isletflow-alert-email"
ENV_WEBHOOK = "ISLETFLOW_ALERT_WEBHOOK_URL"
ENV_SMTP = "ISLETFLOW_ALERT_SMTP_"  # + HOST, PORT, SECURITY, USER, PASSWORD, FROM, TO
ENV_SMTP_HOST = ENV_SMTP + "HOST"
ENV_SMTP_PASSWORD = ENV_SMTP + "PASSWORD"
SMTP_SECURITY_PORTS = {"starttls": 587, "ssl": 465, "none": 25}  # the default port of each
ENV_DEADLINE = "ISLETFLOW_ALERT_DEADLINE"
ENV_TIMEZONE = "ISLETFLOW_ALERT_TIMEZONE"
DEFAULT_DEADLINE = dt.time(7, 0)
FAILED_EVENTS = {"prefect.flow-run.Failed", "prefect.flow-run.Crashed",
                 "prefect.flow-run.TimedOut"}
NIGHT_START_EVENTS = {"prefect.flow-run.Pending", "prefect.flow-run.Late",
                      "prefect.flow-run.AwaitingConcurrencySlot", "prefect.flow-run.Running"}
ERROR_CHARS = 500  # the first line of the error, cut at this length
REDACTED = "[redacted]"
LOGGING_CONFIG_NAME = "isletflow-logging.yml"  # in PREFECT_HOME, written by `isletflow serve`


def _address(value: str, name: str) -> str:
    """``value`` if it is a bare e-mail address (``local@domain``, no name, no spaces, no
    angle brackets), else ValueError naming the variable ``name`` but not the value (an
    address is personal data)."""
    local, at, domain = value.partition("@")
    if (not at or not local or "." not in domain.strip(".") or "@" in domain
            or any(c.isspace() or c in "<>,;\"()" for c in value)):
        raise ValueError(f"{name} holds something that is not an e-mail address "
                         "(local@domain.tld, comma-separated for several)")
    return value


@dataclass(frozen=True)
class EmailSettings:
    """The SMTP server and the addresses of the e-mail alerts (:meth:`from_env`)."""

    host: str
    port: int
    security: str  # starttls | ssl | none
    username: str | None
    password: str | None = field(repr=False)
    from_address: str
    to: tuple[str, ...]

    @classmethod
    def from_env(cls, env) -> EmailSettings | None:
        """None when no ``ISLETFLOW_ALERT_SMTP_*`` variable is set (empty counts as unset).
        Else ``_HOST`` and ``_TO`` (comma-separated addresses) are needed; ``_SECURITY`` is
        starttls (default), ssl or none (any case); ``_PORT`` a number 1-65535, by default
        587 for starttls, 465 for ssl, 25 for none; ``_USER`` and ``_PASSWORD`` go together
        and not with none (the password would cross the network unencrypted); ``_FROM`` is
        an address, by default ``_USER`` when that is one. ValueError naming the variable,
        never showing an address or the password."""
        get = {k: (env.get(ENV_SMTP + k) or "").strip()
               for k in ("HOST", "PORT", "SECURITY", "USER", "PASSWORD", "FROM", "TO")}
        get["PASSWORD"] = env.get(ENV_SMTP_PASSWORD) or ""  # spaces may be part of it
        if not get["HOST"]:
            stray = [ENV_SMTP + k for k, v in get.items() if v]
            if stray:
                raise ValueError(f"{', '.join(stray)} set but {ENV_SMTP_HOST} is not")
            return None
        security = get["SECURITY"].lower() or "starttls"
        if security not in SMTP_SECURITY_PORTS:
            raise ValueError(f"{ENV_SMTP}SECURITY={get['SECURITY']!r} is not one of starttls, "
                             "ssl, none")
        port = SMTP_SECURITY_PORTS[security]
        if get["PORT"]:
            if not get["PORT"].isdigit() or not 1 <= int(get["PORT"]) <= 65535:
                raise ValueError(f"{ENV_SMTP}PORT={get['PORT']!r} is not a port number "
                                 "(1-65535)")
            port = int(get["PORT"])
        if bool(get["USER"]) != bool(get["PASSWORD"]):
            raise ValueError(f"{ENV_SMTP}USER and {ENV_SMTP_PASSWORD} go together: one is "
                             "set without the other")
        for k in ("USER", "PASSWORD"):  # never echo the value: name the variable only
            if not get[k].isascii():
                raise ValueError(f"{ENV_SMTP}{k} holds a character that is not ASCII: Python's "
                                 "smtplib logs in with ASCII only")
        if get["PASSWORD"] and security == "none":
            raise ValueError(f"{ENV_SMTP_PASSWORD} with {ENV_SMTP}SECURITY=none would cross "
                             "the network unencrypted: use starttls or ssl")
        if not get["TO"]:
            raise ValueError(f"{ENV_SMTP}TO (the recipients) is not set")
        to = tuple(_address(a.strip(), f"{ENV_SMTP}TO") for a in get["TO"].split(",")
                   if a.strip())
        if not to:
            raise ValueError(f"{ENV_SMTP}TO (the recipients) is not set")
        sender = get["FROM"] or (get["USER"] if "@" in get["USER"] else "")
        if not sender:
            raise ValueError(f"{ENV_SMTP}FROM (the sender's address) is not set")
        return cls(get["HOST"], port, security, get["USER"] or None,
                   get["PASSWORD"] or None, _address(sender, f"{ENV_SMTP}FROM"), to)

    def receiver(self) -> str:
        """``N e-mail address(es) via host:port (security)``: the number of recipients only."""
        return (f"{len(self.to)} e-mail address(es) via {self.host}:{self.port} "
                f"({'no encryption' if self.security == 'none' else self.security})")


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go and the deadline of a night. ``timezone`` None: each schedule's own;
    ``email`` None: no e-mail."""

    webhook_url: str | None
    deadline: dt.time = DEFAULT_DEADLINE
    timezone: str | None = None
    email: EmailSettings | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ = os.environ) -> AlertSettings:
        """Read ``ISLETFLOW_ALERT_WEBHOOK_URL`` (http or https), ``ISLETFLOW_ALERT_DEADLINE``
        (HH:MM, 24 h), ``ISLETFLOW_ALERT_TIMEZONE`` (an IANA zone) and the
        ``ISLETFLOW_ALERT_SMTP_*`` variables (:meth:`EmailSettings.from_env`); ValueError
        naming the variable for a value that is not one."""
        url = (env.get(ENV_WEBHOOK) or "").strip() or None
        if url and (urllib.parse.urlsplit(url).scheme not in ("http", "https")
                    or not urllib.parse.urlsplit(url).hostname):
            raise ValueError(f"{ENV_WEBHOOK} is not an http(s) URL")
        raw = (env.get(ENV_DEADLINE) or "").strip()
        try:
            deadline = dt.time.fromisoformat(raw) if raw else DEFAULT_DEADLINE
        except ValueError:
            raise ValueError(f"{ENV_DEADLINE}={raw!r} is not a time of day (HH:MM)") from None
        zone = (env.get(ENV_TIMEZONE) or "").strip() or None
        if zone:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{ENV_TIMEZONE}={zone!r} is not a time zone of the tz "
                                 "database (e.g. America/Toronto)") from None
        return cls(url, deadline.replace(tzinfo=None), zone, EmailSettings.from_env(env))

    def receivers(self) -> str:
        """Where alerts go, for printing: the webhook's :meth:`receiver` and the e-mail's
        (:meth:`EmailSettings.receiver`), joined by ``and``; empty if neither is set."""
        return " and ".join(([self.receiver()] if self.webhook_url else [])
                            + ([self.email.receiver()] if self.email else []))

    def receiver(self) -> str:
        """The webhook's scheme and host only (its path may hold a token)."""
        parts = urllib.parse.urlsplit(self.webhook_url or "")
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def first_deadline_after(start: dt.datetime, deadline: dt.time, zone: str) -> dt.datetime:
    """The first instant at or after ``start`` (aware) whose wall time in ``zone`` is
    ``deadline``: that day's deadline if not yet passed, else the next day's."""
    tz = ZoneInfo(zone)
    local = start.astimezone(tz)
    at = dt.datetime.combine(local.date(), deadline, tzinfo=tz)
    if at < local:
        at = dt.datetime.combine(local.date() + dt.timedelta(days=1), deadline, tzinfo=tz)
    return at


def deadline_within(starts: list[dt.datetime], deadline: dt.time, zone: str) -> dt.timedelta:
    """The window of the deadline trigger: the longest time from a scheduled start to the
    first deadline after it, over ``starts`` (aware datetimes). Exact for every start whose
    time to the deadline is the longest; never shorter than any (no alert before the set
    hour). Elapsed time: aware datetimes in different zones subtract in UTC."""
    if not starts:
        raise ValueError("no scheduled start to measure the deadline from")
    return max(first_deadline_after(s, deadline, zone) - s for s in starts)


def scheduled_starts(schedules, after: dt.datetime, n: int = 366) -> list[dt.datetime]:
    """The next ``n`` starts of each of ``schedules`` (a deployment's Cron, Interval or RRule
    schedules from the API), computed by the Prefect server's own schedule classes, so with
    the scheduler's rules for clock changes."""
    from prefect.server.schemas import schedules as server_schedules
    from prefect.utilities.asyncutils import run_coro_as_sync

    starts = []
    for s in schedules:
        server_schedule = getattr(server_schedules, type(s).__name__).model_validate(
            s.model_dump())
        starts += [dt.datetime.fromtimestamp(d.timestamp(), dt.UTC)  # stdlib, not pendulum
                   for d in run_coro_as_sync(server_schedule.get_dates(n=n, start=after))]
    return starts


def describe(delta: dt.timedelta) -> str:
    """``4 h 30 min``, ``10 s`` (whole seconds; zero parts left out)."""
    m, sec = divmod(round(delta.total_seconds()), 60)
    h, m = divmod(m, 60)
    return " ".join(f"{n} {unit}" for n, unit in ((h, "h"), (m, "min"), (sec, "s")) if n) or "0 s"


def _literal(text: str) -> str:
    """``text`` as a Jinja string literal (JSON's escapes are Jinja's)."""
    return json.dumps(text)


def _prelude(deployment: str, ui_url: str | None) -> str:
    """Template variables from the triggering state-change event only (no API read that
    could fail at alert time): the run's name, the state it entered and when, its link."""
    url = ("{%- set url = none -%}" if not ui_url else
           f"{{%- set url = {_literal(ui_url.rstrip('/') + '/runs/flow-run/')} "
           "~ r.id.split('.')[-1] -%}")
    return ("{%- set r = event.resource -%}"
            f"{{%- set deployment = {_literal(deployment)} -%}}"
            "{%- set name = r.get('prefect.resource.name') or '' -%}"
            "{%- set state = r.get('prefect.state-name') or '' -%}"
            "{%- set time = r.get('prefect.state-timestamp') or '' -%}" + url)


def failed_body(deployment: str, ui_url: str | None) -> str:
    """The Jinja template of the failure notification: a JSON object (module docstring)
    whose ``error`` is the first line of the state message, cut at ERROR_CHARS."""
    return (
        _prelude(deployment, ui_url)
        + "{%- set lines = (r.get('prefect.state-message') or '').splitlines() -%}"
        "{%- set error = (lines[0] if lines else '') "
        f"| truncate({ERROR_CHARS}, true, '…', 0) -%}}"
        '{"alert": "failed", "deployment": {{ deployment | tojson }}, '
        '"flow_run": {{ name | tojson }}, "state": {{ state | tojson }}, '
        '"time": {{ time | tojson }}, "error": {{ error | tojson }}, "url": {{ url | tojson }}, '
        '"text": {{ (deployment ~ ": flow run " ~ name ~ " " ~ state ~ " at " ~ time '
        "~ (': ' ~ error if error else '')) | tojson }}}"
    )


def deadline_body(deployment: str, deadline: str, within: dt.timedelta,
                  ui_url: str | None) -> str:
    """The Jinja template of the missed-deadline notification. The triggering event is the
    one that opened the night's window (the run entering Pending, Late,
    AwaitingConcurrencySlot or Running): ``last_state`` is that state, not the run's state
    at the deadline."""
    return (
        _prelude(deployment, ui_url)
        + '{"alert": "not-completed-by-deadline", "deployment": {{ deployment | tojson }}, '
        f'"deadline": {_literal(deadline)}, '
        '"flow_run": {{ name | tojson }}, "last_state": {{ state | tojson }}, '
        '"last_state_time": {{ time | tojson }}, "url": {{ url | tojson }}, '
        '"text": {{ (deployment ~ ": no Completed run by " ~ '
        f'{_literal(deadline)} ~ " ({describe(within)} after run " ~ name ~ " entered " ~ '
        'state ~ " at " ~ time ~ ")") | tojson }}}'
    )


def failed_subject(deployment: str) -> str:
    """The Jinja template of the failure notification's subject (the e-mail's; the webhook
    sends the body only): ``isletflow: <deployment>: flow run <name> <state>``."""
    return (_prelude(deployment, None)
            + "isletflow: {{ deployment }}: flow run {{ name }} {{ state }}")


def deadline_subject(deployment: str, deadline: str) -> str:
    """The missed-deadline notification's subject, ``isletflow: <deployment>: no Completed
    run by <deadline>`` (no template variable)."""
    return f"isletflow: {deployment}: no Completed run by {deadline}"


def _automation(name: str, description: str, deployment_id, block_ids, subject: str,
                body: str, **trigger):
    """An automation tagged TAG on the flow runs of one deployment, notifying through each
    of the blocks ``block_ids`` (one action each); ``trigger``: the EventTrigger's other
    fields."""
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    return AutomationCore(
        name=name, description=description, tags=[TAG],
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.id": f"prefect.deployment.{deployment_id}",
                           "prefect.resource.role": "deployment"}, threshold=1, **trigger),
        actions=[SendNotification(block_document_id=block_id, subject=subject, body=body)
                 for block_id in block_ids])


def failed_automation(deployment: str, deployment_id, block_ids, ui_url: str | None):
    """One notification per flow run of the deployment entering Failed, Crashed or TimedOut."""
    from prefect.events.schemas.automations import Posture

    return _automation(
        f"isletflow: {deployment} failed or crashed",
        f"A flow run of {deployment} entered Failed, Crashed or TimedOut: notify "
        "(isletflow.alerts).", deployment_id, block_ids, failed_subject(deployment),
        failed_body(deployment, ui_url), expect=FAILED_EVENTS, for_each={"prefect.resource.id"},
        posture=Posture.Reactive, within=dt.timedelta(0))


def deadline_automation(deployment: str, deployment_id, block_ids, within: dt.timedelta,
                        deadline: str, ui_url: str | None):
    """See the module docstring for why these ``after``/``expect``/``for_each``/``within``
    give "no Completed run by the set hour"."""
    from prefect.events.schemas.automations import Posture

    return _automation(
        f"isletflow: {deployment} not completed by the deadline",
        f"No Completed run of {deployment} by {deadline} ({describe(within)} after the "
        "night's run was due): notify (isletflow.alerts).", deployment_id, block_ids,
        deadline_subject(deployment, deadline),
        deadline_body(deployment, deadline, within, ui_url), after=NIGHT_START_EVENTS,
        expect={"prefect.flow-run.Completed"},
        for_each={"related:deployment:prefect.resource.id"}, posture=Posture.Proactive,
        within=within)


def project_deployments(prefect_yaml: Path = PROJECT / "prefect.yaml") -> dict[str, str]:
    """Deployment name -> entrypoint, as prefect.yaml declares them."""
    import yaml

    spec = yaml.safe_load(prefect_yaml.read_text())
    return {d["name"]: d["entrypoint"] for d in spec.get("deployments") or []}


def save_webhook_block(url: str):
    """Create or overwrite the webhook block; returns its block document id."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block = CustomWebhookNotificationBlock(
        name="isletflow alerts", url="{{webhook_url}}", method="POST",
        form_data="{{body}}", headers={"Content-Type": "application/json"},
        secrets={"webhook_url": url})
    return block.save(BLOCK_NAME, overwrite=True)


def save_email_block(email: EmailSettings):
    """Create or overwrite the e-mail block (:class:`isletflow.alert_email.IsletflowEmail`);
    returns its block document id. The block type must have been registered by the server
    itself, which it does at start for every block class it could import (its
    ``prefect.collections`` entry points): registered from here instead, the server could
    still be unable to load the class when an alert fires, and the e-mail would never go."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from isletflow.alert_email import IsletflowEmail

    with get_client(sync_client=True) as client:
        try:
            client.read_block_type_by_slug(IsletflowEmail.get_block_type_slug())
        except ObjectNotFound:
            raise ValueError("the Prefect server cannot load isletflow's e-mail block (isletflow "
                             "is not installed in its environment): start it with `isletflow "
                             "serve` or from this project's .venv") from None
    block = IsletflowEmail(host=email.host, port=email.port, security=email.security,
                           username=email.username, password=email.password,
                           from_address=email.from_address, to=list(email.to))
    return block.save(EMAIL_BLOCK_NAME, overwrite=True)


def _delete_block(client, block_class, name: str) -> bool:
    """Delete the block document ``name`` of ``block_class``'s type if there is one."""
    from prefect.exceptions import ObjectNotFound

    try:
        doc = client.read_block_document_by_name(name, block_class.get_block_type_slug(),
                                                 include_secrets=False)
    except ObjectNotFound:
        return False
    client.delete_block_document(doc.id)
    return True


def sync_alerts(env: dict[str, str] | os._Environ = os.environ, now: dt.datetime | None = None,
                prefect_yaml: Path = PROJECT / "prefect.yaml") -> str:
    """Make the isletflow automations on the Prefect API at ``env["PREFECT_API_URL"]`` (or
    the current profile's) what ``env`` asks for (see the module docstring) and return one
    line saying what is configured. ValueError for a setting that is not valid."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from isletflow.alert_email import IsletflowEmail

    settings = AlertSettings.from_env(env)
    now = now or dt.datetime.now(dt.UTC)
    updates = {PREFECT_API_URL: env["PREFECT_API_URL"]} if env.get("PREFECT_API_URL") else {}
    with temporary_settings(updates=updates), get_client(sync_client=True) as client:
        wanted, deadlines = [], []
        block_ids = []  # one notification action per block: the webhook, then the e-mail
        if settings.webhook_url:
            block_ids.append(save_webhook_block(settings.webhook_url))
        if settings.email:
            block_ids.append(save_email_block(settings.email))
        if block_ids:
            ui_url = get_current_settings().ui_url
            declared = project_deployments(prefect_yaml)
            found = client.read_deployments(deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=sorted(declared))))
            for d in sorted(found, key=lambda d: d.name):
                if d.entrypoint != declared[d.name]:
                    continue  # another project's deployment of the same name
                full = f"{client.read_flow(d.flow_id).name}/{d.name}"
                wanted.append(failed_automation(full, d.id, block_ids, ui_url))
                active = [s.schedule for s in d.schedules if s.active]
                if not active:
                    continue
                zone = settings.timezone or active[0].timezone or "UTC"
                within = deadline_within(scheduled_starts(active, now), settings.deadline, zone)
                label = f"{settings.deadline:%H:%M} {zone}"
                wanted.append(deadline_automation(full, d.id, block_ids, within, label,
                                                  ui_url))
                deadlines.append(f"{full} by {label} ({describe(within)} after its night "
                                 "starts)")
        existing: dict[str, list] = {}
        for a in client.read_automations():
            if TAG in (a.tags or []):
                existing.setdefault(a.name, []).append(a)
        for a in wanted:
            have = existing.pop(a.name, [])
            if have:
                client.update_automation(have[0].id, a)
            else:
                client.create_automation(a)
            for extra in have[1:]:
                client.delete_automation(extra.id)
        removed = [a for same in existing.values() for a in same]
        for a in removed:
            client.delete_automation(a.id)
        if not settings.webhook_url:  # after the automations that used it are gone
            _delete_block(client, CustomWebhookNotificationBlock, BLOCK_NAME)
        if not settings.email:
            _delete_block(client, IsletflowEmail, EMAIL_BLOCK_NAME)
    if not block_ids:
        return (f"alerts: none configured (set {ENV_WEBHOOK}, or {ENV_SMTP_HOST} and "
                f"{ENV_SMTP}TO, to be notified of a failed run or a night not completed by "
                "its deadline)"
                + (f"; removed {len(removed)} earlier isletflow automation(s)" if removed else ""))
    n_failed = len(wanted) - len(deadlines)
    return (f"alerts to {settings.receivers()}: any failed or crashed run of {n_failed} "
            "deployment(s); no Completed run of "
            + ("; ".join(deadlines) or "(no deployment has an active schedule)"))


MIN_BARE_SECRET = 16


def secret_forms(url: str) -> dict[str, str]:
    """Each string under which the webhook URL ``url`` can show in a log line -> what to show
    instead, longest first: the URL as given and as httpx prints it in its errors
    (``str(httpx.URL(url))``: host in lower case, non-ASCII and spaces percent-encoded), each
    shown as ``scheme://host[:port]/[redacted]``; its path with query, its query, and the
    ``user:password`` of the URL if any, each shown as ``[redacted]`` (a Slack, Mattermost or
    Teams hook's token is its path: about 60 characters). A path or query shorter than
    ``MIN_BARE_SECRET`` is redacted only as part of the URL: alone it is no token, and ``/api``
    would be blanked out of every line of the server's own requests."""
    import httpx

    receiver = AlertSettings(url).receiver()
    forms = {url: f"{receiver}/{REDACTED}"}
    parts = [urllib.parse.urlsplit(url)]
    try:
        normal = httpx.URL(url)
    except httpx.InvalidURL:
        normal = None
    if normal is not None:
        forms[str(normal)] = f"{receiver}/{REDACTED}"
        parts.append(urllib.parse.urlsplit(str(normal)))
    for p in parts:
        path_query = p.path + (f"?{p.query}" if p.query else "")
        for secret in (path_query, p.query):  # alone, only a token-like length: a short
            if len(secret) >= MIN_BARE_SECRET:  # path ("/api") is in ordinary log lines too
                forms.setdefault(secret, REDACTED)
        if p.netloc.rpartition("@")[0]:
            forms.setdefault(p.netloc.rpartition("@")[0], REDACTED)
    return dict(sorted(forms.items(), key=lambda kv: -len(kv[0])))


class RedactSecrets(logging.Filter):
    """A logging filter (for handlers) that takes the alert webhook URL and the SMTP password
    out of log records.

    Why: when the webhook answers an HTTP error (a revoked Slack hook answers 404), Prefect's
    ``CustomWebhookNotificationBlock`` raises httpx's ``HTTPStatusError``, whose message holds
    the full URL; Prefect 3.9.1's ``SendNotification`` lets it through (it catches only
    ``NotificationError``) and the server logs it with its traceback ("Failed in
    consume_loop", logger ``prefect.server.utilities.messaging.memory``) on every retry.

    The URLs are read from the environment variables ``env_vars`` when the filter is made
    (the process's logging set-up), plus any given in ``urls``; every form of each
    (:func:`secret_forms`) is replaced, and so is each of the plain secrets read from the
    variables ``secret_vars`` (the SMTP password, as given: ``smtplib`` logs nothing of it
    unless its debug output is turned on, which isletflow never does) or given in
    ``secrets``, shown as ``[redacted]``. They are replaced in the record's message
    (``msg % args``, then kept as ``msg`` with no ``args``), its exception text and its stack text. A record whose exception
    holds one gets the redacted traceback as ``exc_text`` (``logging.Formatter`` prints
    ``exc_text`` when set, rather than formatting ``exc_info`` again) and loses ``exc_info``
    (formatters that read the exception object, such as Prefect's JSON formatter, would show
    the URL). Records without a secret are left as they are. Never drops a record."""

    def __init__(self, env_vars: list[str] | tuple[str, ...] = (ENV_WEBHOOK,),
                 urls: list[str] | tuple[str, ...] = (),
                 secret_vars: list[str] | tuple[str, ...] = (ENV_SMTP_PASSWORD,),
                 secrets: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__()
        found = [*urls, *((os.environ.get(v) or "").strip() for v in env_vars)]
        forms: dict[str, str] = {}
        for url in filter(None, found):
            forms.update(secret_forms(url))
        for secret in filter(None, [*secrets, *(os.environ.get(v) for v in secret_vars)]):
            forms[secret] = REDACTED
        self.forms = dict(sorted(forms.items(), key=lambda kv: -len(kv[0])))

    def redact(self, text: str) -> str:
        for secret, shown in self.forms.items():
            text = text.replace(secret, shown)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.forms:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format: left to the handler's own error report
            return True
        if (clean := self.redact(message)) != message:
            record.msg, record.args = clean, None
        text = record.exc_text or (logging.Formatter().formatException(record.exc_info)
                                   if record.exc_info and record.exc_info[0] else "")
        if text and (clean := self.redact(text)) != text:
            record.exc_text, record.exc_info = clean, None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def redacting_logging_config() -> dict:
    """Prefect's own default logging configuration (``prefect/logging/logging.yml`` of the
    installed Prefect, read as YAML without filling its ``${SETTING}`` templates, which Prefect
    fills when it loads the file) with the filter :class:`RedactSecrets` (as
    ``redact_secrets``) on every one of its handlers; nothing else changed."""
    import yaml
    from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH

    config = yaml.safe_load(DEFAULT_LOGGING_SETTINGS_PATH.read_text())
    config.setdefault("filters", {})["redact_secrets"] = {
        "()": f"{RedactSecrets.__module__}.{RedactSecrets.__qualname__}"}
    for handler in config["handlers"].values():
        handler["filters"] = [*(handler.get("filters") or []), "redact_secrets"]
    return config


def redacting_logging_env(say=print) -> dict[str, str]:
    """For the Prefect server and worker started by ``isletflow serve``: write
    :func:`redacting_logging_config` to ``PREFECT_HOME/isletflow-logging.yml`` and return
    ``{"PREFECT_LOGGING_CONFIG_PATH": that file}`` (Prefect 3.9.1's name for the setting, also
    read as ``PREFECT_LOGGING_SETTINGS_PATH``; a process loads the file when it sets up
    logging, ``prefect.logging.configuration.setup_logging``). If the current settings
    already name a logging file that exists (the user's own, ``PREFECT_HOME/logging.yml`` by
    default), return ``{}`` and say that the webhook URL and SMTP password are not redacted
    there."""
    import yaml
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    own = Path(settings.logging.config_path).expanduser()
    if own.exists():
        say(f"logging: Prefect uses your {own}; add the filter {RedactSecrets.__module__}."
            f"{RedactSecrets.__qualname__} to its handlers to keep {ENV_WEBHOOK} and "
            f"{ENV_SMTP_PASSWORD} out of the server's log")
        return {}
    path = Path(settings.home).expanduser() / LOGGING_CONFIG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by `isletflow serve` (isletflow/alerts.py): Prefect's default "
                    "logging.yml with\n# the filter RedactSecrets on every handler. Rewritten "
                    "at each start.\n" + yaml.safe_dump(redacting_logging_config(),
                                                         sort_keys=False))
    return {"PREFECT_LOGGING_CONFIG_PATH": str(path)}
