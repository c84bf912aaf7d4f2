"""The sync engine: one run of one connection.

For each entity, in dependency order (customers, vendors and items before documents,
documents before payments), according to its direction:

1. **pull** (``from_remote``/``both``): the connector lists the remote records changed
   since the entity's cursor (QuickBooks: change data capture or a query), plus the
   records that failed or waited last time. Each is compared with its link: unchanged
   (same hash as last synced) -> nothing; new -> matched to an existing record of ours
   (same name / SKU / number) or created through the core's services; changed -> a
   three-way merge against the last synced state of both sides: fields changed on one
   side only go to the other, fields changed on both sides to different values are a
   conflict settled by the entity's policy (ours, theirs, newest, manual); deleted ->
   deleted here, or deactivated/cancelled where the record is still used. The outbox is
   suppressed for this connection while remote changes are applied, so they do not
   bounce back. The cursor moves only when the whole entity was read.
2. **push** (``to_remote``/``both``): the outbox rows of the entity (written by the
   hooks in the transaction of each change), the records that failed or waited last
   time and, on the first run, every record not linked yet. Records whose canonical
   hash equals the last synced one send nothing (idempotent re-runs). Writes go in
   batches when the connector batches; each carries a request id derived from the
   change, so a write retried after a lost answer is not applied twice. Outbox rows are
   deleted with the link update that handled them, so a run cut short leaves them for
   the next run.

Remote calls are retried with exponential backoff on 429/5xx/timeouts/dropped
connections, once after a token refresh on 401, and after re-reading the record on a
stale version; validation errors and duplicates are not retried: the link keeps the
error (status ``failed``) for the next run or a skip. A record whose parent is not
linked waits (status ``waiting``) and is tried again on the next run.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import time
from collections import Counter, defaultdict

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from crm.accounting_connectors import (
    DOCUMENT_ENTITIES,
    ENTITIES,
    AuthenticationError,
    MissingLink,
    NotFoundError,
    PushResult,
    RemoteConflict,
    RemoteRecord,
    RetryableError,
    SkipRecord,
    StaleVersionError,
    SyncError,
)
from crm.context import acting_as
from crm.errors import CRMError
from crm.models.base import utcnow
from crm.services.users import system_user
from crm_accounting_sync import canonical
from crm_accounting_sync.canonical import changed_fields, digest, normalise
from crm_accounting_sync.connections import entity_config, make_connector
from crm_accounting_sync.local import local_entities
from crm_accounting_sync.models import Connection, Link, Outbox, Run, RunRecord

log = logging.getLogger(__name__)

#: canonical keys shown for information only: never written to the other side
READ_ONLY = frozenset({"number", "total", "tax", "shipping", "discount"})
SUPPRESS = "accounting_sync_suppress"
CHUNK = 100
ACTIONS = ("created", "updated", "deleted", "skipped", "failed")


class RunAborted(Exception):
    """The run cannot go on (remote unreachable after retries, credentials refused)."""


@contextlib.contextmanager
def suppressed(session: Session, connection: str):
    """Changes made in the block are not written to ``connection``'s outbox."""
    names = session.info.setdefault(SUPPRESS, set())
    added = connection not in names
    names.add(connection)
    try:
        yield
    finally:
        if added:
            names.discard(connection)


def request_id(*parts) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:36]


class Refs:
    """References between the sides through the link table (see ``crm.accounting_connectors.Refs``)."""

    def __init__(self, engine: "Engine"):
        self.engine = engine

    def remote(self, entity, local_id):
        if local_id is None:
            return None
        link = self.engine.link_by_local(entity, local_id)
        if link is None or link.remote_id is None or link.status == "deleted":
            raise MissingLink(entity, local_id, "local")
        return link.remote_id

    def local(self, entity, remote_id):
        if remote_id in (None, ""):
            return None
        link = self.engine.link_by_remote(entity, str(remote_id))
        if link is None or link.local_id is None or link.status == "deleted":
            raise MissingLink(entity, remote_id, "remote")
        return link.local_id

    def value(self, map_name, value, *, reverse=False, default=None):
        table = (self.engine.settings.get("value_maps") or {}).get(map_name) or {}
        if reverse:   # several of ours mapped to one of theirs: the first of them
            table = {v: k for k, v in reversed(list(table.items()))}
        return table.get(value, default)


class Engine:
    def __init__(self, app, session: Session, connection: Connection, run: Run, *, connector=None, sleep=time.sleep):
        self.app = app
        self.session = session
        self.connection = connection
        self.name = connection.name
        self.settings = connection.settings or {}
        self.run = run
        self.connector = connector or make_connector(connection, session, app)
        self.sleep = sleep
        self.refs = Refs(self)
        self.locals = local_entities(self.settings, app)
        self.counts: dict = {}
        self._links_local: dict[str, dict[int, Link]] = {}
        self._links_remote: dict[str, dict[str, Link]] = {}
        retry = self.settings.get("retry") or {}
        self.max_attempts = int(retry.get("max_attempts", 5))
        self.base_seconds = float(retry.get("base_seconds", 1.0))
        self.max_seconds = float(retry.get("max_seconds", 30))
        self.max_throttled = int(retry.get("max_throttled", 10))
        self.mappings = [m for m in (self.settings.get("mappings") or [])]
        self._in_stale_retry = False
        self.wrote: Counter = Counter()
        self.noted: set[tuple[str, int]] = set()   # (entity, local id) of the records in this run's log

    # --- bookkeeping ----------------------------------------------------------------------------

    def entities(self, wanted=None) -> list[str]:
        supported = set(self.connector.entities)
        chosen = [e for e in ENTITIES if e in supported and (not wanted or e in wanted)]
        return [e for e in chosen if entity_config(self.connection, e, supported)["direction"] != "none"]

    def unavailable(self, entities: list[str]) -> list[str]:
        """Entities to sync whose records no enabled plugin provides (payments without the payments
        plugin): not synced, and said so in the run's log."""
        return [e for e in entities if e not in self.locals]

    def count(self, entity: str, side: str, action: str, n: int = 1) -> None:
        per = self.counts.setdefault(entity, {}).setdefault(side, dict.fromkeys(ACTIONS, 0))
        key = action if action in per else ("failed" if action in ("conflict", "waiting") else "skipped")
        per[key] += n

    def note(self, entity, side, action, *, local_id=None, remote_id=None, label="", message="") -> None:
        self.count(entity, side, action)
        if local_id is not None:
            self.noted.add((entity, local_id))
        self.session.add(RunRecord(run_id=self.run.id, entity=entity, side=side, action=action, local_id=local_id,
                                   remote_id=remote_id, label=(label or "")[:200], message=message or ""))

    def progress(self, entity, phase, done, total) -> None:
        kept = {"interrupted": self.run.progress["interrupted"]} if "interrupted" in (self.run.progress or {}) else {}
        self.run.progress = {"entity": entity, "phase": phase, "done": done, "total": total, **kept}
        self.run.counts = {k: {s: dict(c) for s, c in v.items()} for k, v in self.counts.items()}

    def checkpoint(self) -> None:
        self.run.counts = {k: {s: dict(c) for s, c in v.items()} for k, v in self.counts.items()}
        # the heartbeat: a run said running without one for a while stopped (runner.stopped)
        self.run.progress = {**(self.run.progress or {}), "heartbeat": utcnow().isoformat()}
        self.run.http_calls = getattr(self.connector, "http_calls", self.run.http_calls or 0)
        self.session.commit()

    # --- links ----------------------------------------------------------------------------------

    def _load_links(self, entity: str) -> None:
        if entity in self._links_local:
            return
        by_local, by_remote = {}, {}
        for link in self.session.scalars(select(Link).where(Link.connection == self.name, Link.entity == entity)):
            if link.local_id is not None:
                by_local[link.local_id] = link
            if link.remote_id is not None:
                by_remote[link.remote_id] = link
        self._links_local[entity], self._links_remote[entity] = by_local, by_remote

    def link_by_local(self, entity, local_id) -> Link | None:
        self._load_links(entity)
        return self._links_local[entity].get(local_id)

    def link_by_remote(self, entity, remote_id) -> Link | None:
        self._load_links(entity)
        return self._links_remote[entity].get(str(remote_id))

    def new_link(self, entity, local_id=None, remote_id=None) -> Link:
        link = Link(connection=self.name, entity=entity, local_id=local_id, remote_id=remote_id, status="ok",
                    error="", attempts=0, label="")
        self.session.add(link)
        self.index(link)
        return link

    def index(self, link: Link) -> None:
        self._load_links(link.entity)
        if link.local_id is not None:
            self._links_local[link.entity][link.local_id] = link
        if link.remote_id is not None:
            self._links_remote[link.entity][link.remote_id] = link

    # --- remote calls with retries --------------------------------------------------------------

    def call(self, fn, *args, **kwargs):
        attempt, throttled, refreshed = 0, 0, False
        while True:
            try:
                return fn(*args, **kwargs)
            except RetryableError as exc:
                attempt += 1
                if exc.status == 429:
                    # throttled: wait as long as the remote asks (QuickBooks: a minute at least), not capped
                    throttled += 1
                    if throttled > self.max_throttled:
                        raise RunAborted(f"{exc.message} (still throttled after {throttled - 1} waits)") from exc
                    self.sleep(exc.retry_after if exc.retry_after is not None else self.max_seconds)
                    continue
                if attempt >= self.max_attempts:
                    raise RunAborted(f"{exc.message} (gave up after {attempt} attempts)") from exc
                wait = exc.retry_after if exc.retry_after is not None else self.base_seconds * (2 ** (attempt - 1))
                self.sleep(min(wait, self.max_seconds))
            except SyncError as exc:
                if getattr(exc, "stop_run", False):
                    raise RunAborted(exc.message) from exc
                if not isinstance(exc, AuthenticationError):
                    raise
                if refreshed:
                    raise RunAborted(f"the accounting system refused the credentials: {exc.message}; "
                                     "connect again") from exc
                refreshed = True
                try:
                    self.connector.refresh_auth()
                except RetryableError:
                    continue
                except SyncError as refresh_error:
                    raise RunAborted(f"the credentials could not be refreshed: {refresh_error.message}; "
                                     "connect again") from refresh_error

    # --- the run --------------------------------------------------------------------------------

    def execute(self, wanted=None) -> Run:
        run = self.run
        run.status, run.started_at = "running", utcnow()
        entities = self.entities(wanted)
        missing = self.unavailable(entities)
        entities = [e for e in entities if e not in missing]
        run.entities = entities
        for entity in missing:
            why = (f"{entity} are not synced: no enabled plugin provides them here"
                   + (" (enable the payments plugin)" if entity == "payments" else ""))
            log.info("accounting sync run %s: %s", run.id, why)
            self.note(entity, "to_remote", "skipped", message=why)
        self.checkpoint()
        try:
            for entity in entities:
                cfg = entity_config(self.connection, entity, self.connector.entities)
                if cfg["direction"] in ("both", "from_remote"):
                    self.pull(entity, cfg)
                if cfg["direction"] in ("both", "to_remote"):
                    self.push(entity, cfg)
                    if self.wrote.get(entity) and cfg["direction"] == "both":
                        # read our own writes back now (their hashes match: nothing to do) so the
                        # cursor moves past them, and the next run reads only new changes
                        self.pull(entity, cfg)
                else:
                    self.drop_outbox(entity)
                self.checkpoint()
            run.status = "done"
        except RunAborted as exc:
            self.session.rollback()
            run.status, run.error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001  a bug or an unexpected answer: logged on the run
            log.exception("accounting sync run %s failed", run.id)
            self.session.rollback()
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
        run.finished_at = utcnow()
        run.progress = {**(run.progress or {}), "phase": "finished"}
        if run.status == "done" and "alert" in (self.connection.state or {}):
            # a scheduled run's failure was told (runner.note_scheduled): a run that ends done clears it
            self.connection.state = {k: v for k, v in self.connection.state.items() if k != "alert"}
        self.checkpoint()
        self.connector.close()
        return run

    # --- pull -----------------------------------------------------------------------------------

    def pull(self, entity: str, cfg: dict) -> None:
        cursors = dict((self.connection.state or {}).get("cursors") or {})
        changes = self.call(self.connector.changes, entity, cursors.get(entity))
        records = {str(r.id): r for r in changes.records}
        # those that failed or waited last time, and manual conflicts someone resolved
        self._load_links(entity)
        retry = [link for link in self._links_remote[entity].values()
                 if link.pending == "from_remote" and link.remote_id not in records
                 and (link.status != "conflict" or link.resolution)]
        existing = set(records) if changes.complete else changes.existing
        if existing is not None:
            # every remote record was listed: a linked one missing from the list was deleted there
            retry += [link for link in self._links_remote[entity].values()
                      if link.remote_id not in existing and link.remote_id not in records and link.status == "ok"
                      and link.local_id is not None and link not in retry]
        for link in retry:
            rec = self.call(self.connector.fetch, entity, link.remote_id)
            records[link.remote_id] = rec if rec is not None else RemoteRecord(id=link.remote_id, deleted=True)
        total = len(records)
        for n, rec in enumerate(records.values(), 1):
            self.apply_remote(entity, cfg, rec)
            if n % CHUNK == 0:
                self.progress(entity, "from_remote", n, total)
                self.checkpoint()
        state = dict(self.connection.state or {})
        state["cursors"] = {**cursors, entity: changes.cursor}
        self.connection.state = state
        self.progress(entity, "from_remote", total, total)
        self.checkpoint()

    def remote_shape(self, entity: str, rec: RemoteRecord) -> dict:
        shape = self.connector.from_remote(entity, rec, self.refs)
        keys = set(self.connector.fields.get(entity, ()))
        out = canonical.restrict(shape, keys)
        for m in self.mappings:
            if m.get("entity") != entity or m.get("direction", "both") == "to_remote":
                continue
            value = self.connector.get_custom(entity, rec, m["remote"])
            if m.get("map"):
                reverse = {str(v): k for k, v in m["map"].items()}
                value = reverse.get(str(value), m.get("default") if value is not None else None)
            canonical.put(out, m["local"], value)
        return normalise(out)

    def local_shape(self, entity: str, record) -> dict:
        shape = self.locals[entity].shape(self.session, record)
        keys = set(self.connector.fields.get(entity, ()))
        out = canonical.restrict(shape, keys)
        for m in self.mappings:
            if m.get("entity") == entity and m.get("direction", "both") != "from_remote":
                canonical.put(out, m["local"], canonical.get(shape, m["local"]))
        return normalise(out)

    def payload(self, entity: str, shape: dict, current: RemoteRecord | None) -> dict:
        payload = self.connector.to_remote(entity, shape, self.refs, current)
        for m in self.mappings:
            if m.get("entity") != entity or m.get("direction", "both") == "from_remote":
                continue
            value = canonical.get(shape, m["local"])
            if m.get("map"):
                value = m["map"].get(str(value) if value is not None else None, m.get("default"))
            self.connector.set_custom(entity, payload, m["remote"], value)
        return payload

    def _fail(self, link: Link, side: str, status: str, message: str) -> None:
        """A record that could not be synced. A waiting one (its parent is not synced yet) is
        tried again on every run; a failed one when it changes again (on either side) or
        when someone asks for a retry (validation errors are not retried blindly)."""
        link.status, link.error = status, message[:2000]
        link.pending = side if status == "waiting" else None
        link.attempts = (link.attempts or 0) + 1

    def _skip(self, entity, link: Link | None, side: str, message: str, *, local_id=None, remote_id=None,
              label="") -> None:
        if link is None:
            link = self.new_link(entity, local_id=local_id, remote_id=str(remote_id) if remote_id else None)
        link.status, link.pending, link.error, link.label = "skipped", None, message[:2000], label or link.label
        self.note(entity, side, "skipped", local_id=local_id or link.local_id, remote_id=remote_id or link.remote_id,
                  label=label or link.label, message=message)

    def _synced(self, link: Link, local_shape: dict | None, remote_shape: dict | None,
                rec: RemoteRecord | None) -> None:
        if local_shape is not None:
            link.local_state, link.local_hash = local_shape, digest(local_shape)
        if remote_shape is not None:
            link.remote_state, link.remote_hash = remote_shape, digest(remote_shape)
        if rec is not None:
            link.remote_id, link.remote_version = str(rec.id), rec.version
            self.index(link)
        link.status, link.pending, link.error, link.attempts = "ok", None, "", 0
        link.conflict, link.resolution = None, None
        link.synced_at = utcnow()

    def apply_remote(self, entity: str, cfg: dict, rec: RemoteRecord) -> None:
        side = "from_remote"
        link = self.link_by_remote(entity, rec.id)
        if link is not None and link.status == "deleted":
            self._closed_link_changed_there(entity, link, rec)
            return
        adapter = self.locals[entity]
        if rec.deleted:
            if link is None or link.local_id is None:
                return
            self.remote_deleted(entity, link)
            return
        try:
            shape = self.remote_shape(entity, rec)
        except MissingLink as exc:
            link = link or self.new_link(entity, remote_id=str(rec.id))
            self._fail(link, side, "waiting", exc.message)
            self.note(entity, side, "waiting", local_id=link.local_id, remote_id=rec.id, label=link.label,
                      message=exc.message)
            return
        except SkipRecord as exc:
            if link is None or link.status != "skipped" or link.error != exc.message:
                self._skip(entity, link, side, exc.message, remote_id=rec.id)
            return
        except SyncError as exc:
            link = link or self.new_link(entity, remote_id=str(rec.id))
            self._fail(link, side, "failed", exc.message)
            self.note(entity, side, "failed", remote_id=rec.id, message=exc.message)
            return
        rhash = digest(shape)
        if link is not None and link.local_id is not None and link.status == "ok" and rhash == link.remote_hash:
            if rec.version and rec.version != link.remote_version:
                link.remote_version = rec.version  # a change of fields we do not sync
            return
        record = adapter.load(self.session, link.local_id) if link is not None and link.local_id else None
        if record is None:
            record, link = self._match_local(entity, adapter, link, shape, rec)
        if record is None:
            if entity in DOCUMENT_ENTITIES and shape.get("status") == "cancelled":
                if link is None or link.status != "skipped":
                    self._skip(entity, link, "from_remote", "cancelled (voided) in the accounting system before it "
                               "was synced: not created here", remote_id=rec.id, label=_label(shape))
                return
            self.create_local(entity, link, shape, rec)
            return
        self.merge(entity, cfg, link, record, shape, rec)

    def _match_local(self, entity: str, adapter, link: Link | None, shape: dict, rec: RemoteRecord):
        """``(record, link)``: the record here the adapter matches with the remote one, when no
        other link holds it, linked to it from now on; else ``(None, link)``."""
        matched = adapter.match(self.session, shape)
        if matched is None or self.link_by_local(entity, matched.id) is not None:
            return None, link
        if link is None:
            link = self.new_link(entity, local_id=matched.id, remote_id=str(rec.id))
        else:
            link.local_id = matched.id
            self.index(link)
        link.local_state = link.remote_state = link.local_hash = link.remote_hash = None
        return matched, link

    def _closed_link_changed_there(self, entity, link: Link, rec: RemoteRecord) -> None:
        """A change there to a record whose link is closed (deleted here): not applied, said once."""
        if not rec.deleted and rec.version != link.remote_version:
            link.remote_version = rec.version
            self.note(entity, "from_remote", "skipped", local_id=link.local_id, remote_id=rec.id, label=link.label,
                      message="changed there, but its record here was deleted: not applied")

    def create_local(self, entity, link, shape, rec) -> None:
        side = "from_remote"
        adapter = self.locals[entity]
        data = {k: v for k, v in shape.items() if k not in READ_ONLY}
        try:
            with suppressed(self.session, self.name), self.session.begin_nested():
                record = adapter.create(self.session, data)
                local = self.local_shape(entity, record)
        except CRMError as exc:
            link = link or self.new_link(entity, remote_id=str(rec.id))
            self._fail(link, side, "failed", exc.message)
            self.note(entity, side, "failed", remote_id=rec.id, label=_label(shape), message=exc.message)
            return
        if link is None:
            link = self.new_link(entity, local_id=record.id, remote_id=str(rec.id))
        link.local_id = record.id
        link.label = adapter.label(record)
        self._synced(link, local, shape, rec)
        self.note(entity, "from_remote", "created", local_id=record.id, remote_id=rec.id, label=link.label,
                  message="created here from the accounting system")

    def remote_deleted(self, entity, link: Link) -> None:
        adapter = self.locals[entity]
        record = adapter.load(self.session, link.local_id)
        if record is None:
            link.status, link.pending = "deleted", None
            return
        try:
            with suppressed(self.session, self.name), self.session.begin_nested():
                done = adapter.remove(self.session, record)
        except CRMError as exc:
            self._fail(link, "from_remote", "failed", f"deleted in the accounting system, but here: {exc.message}")
            self.note(entity, "from_remote", "failed", local_id=link.local_id, remote_id=link.remote_id,
                      label=link.label, message=link.error)
            return
        link.status, link.pending, link.error = "deleted", None, ""
        link.synced_at = utcnow()
        self.note(entity, "from_remote", "deleted", local_id=link.local_id, remote_id=link.remote_id,
                  label=link.label, message=f"deleted in the accounting system: {done} here")

    def merge(self, entity, cfg, link: Link, record, remote: dict, rec: RemoteRecord) -> None:
        """Three-way: what changed on each side since the last sync goes to the other side."""
        adapter = self.locals[entity]
        local = self.local_shape(entity, record)
        lhash, rhash = digest(local), digest(remote)
        ours = changed_fields(local, link.local_state) if lhash != link.local_hash else set()
        theirs = changed_fields(remote, link.remote_state) if rhash != link.remote_hash else set()
        ours -= READ_ONLY
        theirs -= READ_ONLY
        if entity in DOCUMENT_ENTITIES and remote.get("status") == "cancelled":
            # cancelled / voided there: only that counts (QuickBooks zeroes a voided document's amounts)
            theirs &= {"status"}
        clash = {f for f in ours & theirs if canonical.get(local, f) != canonical.get(remote, f)}
        winner = None
        if clash:
            policy = link.resolution or cfg.get("policy", "newest")
            if policy == "manual":
                link.status, link.pending = "conflict", "from_remote"
                link.conflict = {"fields": sorted(clash), "ours": {f: canonical.get(local, f) for f in clash},
                                 "theirs": {f: canonical.get(remote, f) for f in clash}}
                link.error = "changed on both sides: " + ", ".join(sorted(clash)) + " (choose which side wins)"
                self.note(entity, "from_remote", "conflict", local_id=link.local_id, remote_id=rec.id,
                          label=link.label, message=link.error)
                return
            if policy == "newest":
                mine = adapter.updated_at(record)
                winner = "theirs" if (rec.updated_at and mine and rec.updated_at > mine) or not mine else "ours"
            else:
                winner = policy
        to_local = {f for f in theirs if f not in clash or winner == "theirs"}
        to_remote = {f for f in ours if f not in clash or winner == "ours"}
        # our side
        direction = cfg.get("direction", "both")
        why = ""
        if clash:
            why = f"changed on both sides ({', '.join(sorted(clash))}): {winner} won by policy {link.resolution or cfg.get('policy', 'newest')}"
        if to_local and direction in ("both", "from_remote"):
            changes = {}
            for f in to_local:
                canonical.put(changes, f, canonical.get(remote, f))
            changes = {k: v for k, v in changes.items() if k not in READ_ONLY}
            try:
                with suppressed(self.session, self.name), self.session.begin_nested():
                    adapter.update(self.session, record, changes)
                    local = self.local_shape(entity, record)
            except CRMError as exc:
                self.session.expire(record)
                self._fail(link, "from_remote", "failed", exc.message)
                self.note(entity, "from_remote", "failed", local_id=link.local_id, remote_id=rec.id,
                          label=link.label, message=f"{', '.join(sorted(to_local))}: {exc.message}")
                return
            self.note(entity, "from_remote", "updated", local_id=link.local_id, remote_id=rec.id, label=link.label,
                      message=(why + "; " if why else "") + "changed there: " + ", ".join(sorted(to_local)))
        # their side
        if to_remote and direction in ("both", "to_remote"):
            self._synced(link, None, remote, rec)  # the remote as read is the new base there
            self.send(entity, [(link, record, local, rec, "updated",
                                (why + "; " if why else "") + "changed here: " + ", ".join(sorted(to_remote)))])
            return
        self._synced(link, local, remote, rec)

    # --- push -----------------------------------------------------------------------------------

    def drop_outbox(self, entity: str) -> None:
        self.session.execute(delete(Outbox).where(Outbox.connection == self.name, Outbox.entity == entity))

    def push(self, entity: str, cfg: dict) -> None:
        adapter = self.locals[entity]
        rows = self.session.execute(select(Outbox.id, Outbox.local_id, Outbox.op)
                                    .where(Outbox.connection == self.name, Outbox.entity == entity)
                                    .order_by(Outbox.id)).all()
        outbox_ids: dict[int, list[int]] = defaultdict(list)
        wanted: dict[int, str] = {}
        for row_id, local_id, op in rows:
            outbox_ids[local_id].append(row_id)
            wanted[local_id] = op
        self._load_links(entity)
        for link in list(self._links_local[entity].values()):
            if link.pending == "to_remote" and link.local_id not in wanted and \
                    (link.status != "conflict" or link.resolution):
                wanted[link.local_id] = "saved"
        state = dict(self.connection.state or {})
        initialised = set(state.get("pushed") or [])
        if entity not in initialised:
            for local_id in adapter.all_ids(self.session):
                if local_id not in wanted and self.link_by_local(entity, local_id) is None:
                    wanted[local_id] = "saved"
        ids = list(wanted)
        total = len(ids)
        batch = max(1, int(getattr(self.connector, "batch_size", 1) or 1))
        chunk = batch if batch > 1 else CHUNK
        done = 0
        for start in range(0, total, chunk):
            part = ids[start:start + chunk]
            records = self._load_many(entity, part)
            work = []
            for local_id in part:
                work_item = self.prepare_push(entity, local_id, wanted[local_id], records.get(local_id))
                if work_item is not None:
                    work.append(work_item)
            if work:
                self.send(entity, work)
            gone = [rid for local_id in part for rid in outbox_ids.get(local_id, ())]
            if gone:
                self.session.execute(delete(Outbox).where(Outbox.id.in_(gone)))
            done += len(part)
            self.progress(entity, "to_remote", done, total)
            self.checkpoint()
        state = dict(self.connection.state or {})
        state["pushed"] = sorted(set(state.get("pushed") or []) | {entity})
        self.connection.state = state
        self.checkpoint()

    def _load_many(self, entity, ids) -> dict:
        return self.locals[entity].load_many(self.session, ids) if ids else {}

    def prepare_push(self, entity, local_id, op, record):
        """What to send for one record of ours: (link, record, shape, current, action, why), or None."""
        adapter = self.locals[entity]
        link = self.link_by_local(entity, local_id)
        if record is None:
            if link is None or link.remote_id is None or link.status == "deleted":
                if link is not None and link.remote_id is None:
                    self.session.delete(link)
                    self._links_local[entity].pop(local_id, None)
                return None
            return (link, None, None, None, "deleted", "deleted here")
        skip = getattr(adapter, "skip_reason", None)
        reason = skip(record) if skip else None
        label = adapter.label(record)
        if reason:
            self.note(entity, "to_remote", "skipped", local_id=local_id, label=label, message=reason)
            return None
        shape = self.local_shape(entity, record)
        if link is not None:
            # every record not sent is said so in the run's log, with why (never silently; once per run)
            said = (entity, local_id) in self.noted
            if link.status == "deleted":
                if not said:
                    self.note(entity, "to_remote", "failed", local_id=local_id, remote_id=link.remote_id, label=label,
                              message=f"not sent: linked to record {link.remote_id or '-'} there, which is deleted "
                                      f"(or was deleted here): {link.error or 'the link is closed'}")
                return None
            if link.status == "conflict" and not link.resolution:
                if not said:
                    self.note(entity, "to_remote", "waiting", local_id=local_id, remote_id=link.remote_id,
                              label=label, message=f"not sent: {link.error or 'changed on both sides'}")
                return None
            if link.status == "ok" and link.local_hash == digest(shape) and link.remote_id is not None:
                return None
            if link.status == "skipped" and op != "saved" and not link.pending:
                self.note(entity, "to_remote", "skipped", local_id=local_id, remote_id=link.remote_id, label=label,
                          message=f"not sent: skipped ({link.error or 'by a user'}); retry it to send it")
                return None
        action = "updated" if link is not None and link.remote_id else "created"
        if link is not None and link.resolution and link.remote_id:
            # a resolved conflict: merge again against the remote as it is now
            rec = self.call(self.connector.fetch, entity, link.remote_id)
            if rec is not None:
                cfg = entity_config(self.connection, entity, self.connector.entities)
                self.merge(entity, cfg, link, record, self.remote_shape(entity, rec), rec)
                return None
        return (link, record, shape, None, action, "changed here" if action == "updated" else "new here")

    def send(self, entity: str, work: list) -> None:
        """Write ``work`` items to the remote (in batches when the connector batches)."""
        adapter = self.locals[entity]
        ops, items = [], []
        for link, record, shape, current, action, why in work:
            label = adapter.label(record) if record is not None else (link.label if link else "")
            if action == "deleted":
                ops.append({"delete": True, "remote_id": link.remote_id, "remote_version": link.remote_version,
                            "request_id": request_id(self.name, entity, "delete", link.remote_id)})
                items.append((link, record, shape, action, why, label))
                continue
            try:
                payload = self.payload(entity, shape, current)
            except MissingLink as exc:
                link = link or self.new_link(entity, local_id=record.id)
                link.label = label
                self._fail(link, "to_remote", "waiting", exc.message)
                self.note(entity, "to_remote", "waiting", local_id=record.id, label=label, message=exc.message)
                continue
            except SkipRecord as exc:
                self._skip(entity, link, "to_remote", exc.message, local_id=record.id, label=label)
                continue
            except SyncError as exc:
                link = link or self.new_link(entity, local_id=record.id)
                link.label = label
                self._fail(link, "to_remote", "failed", exc.message)
                self.note(entity, "to_remote", "failed", local_id=record.id, label=label, message=exc.message)
                continue
            remote_id = link.remote_id if link is not None else None
            ops.append({"payload": payload, "remote_id": remote_id,
                        "remote_version": link.remote_version if link is not None else None,
                        "request_id": request_id(self.name, entity, record.id, remote_id or "", digest(shape),
                                                 link.remote_version if link is not None else "")})
            items.append((link, record, shape, action, why, label))
        if not ops:
            return
        if len(ops) == 1 or getattr(self.connector, "batch_size", 1) <= 1:
            results = []
            for op in ops:
                results.append(self._one(entity, op))
        else:
            results = self.call(self.connector.push_batch, entity, ops)
        for (link, record, shape, action, why, label), op, result in zip(items, ops, results):
            if getattr(result.error, "stop_run", False):
                # the remote refuses every write (QuickBooks: subscription ended): stop, saying why
                raise RunAborted(result.error.message)
            self.after_push(entity, link, record, shape, action, why, label, op, result)

    def _one(self, entity, op):
        try:
            if op.get("delete"):
                return PushResult(self.call(self.connector.delete, entity, op["remote_id"], op.get("remote_version"),
                                            request_id=op["request_id"]))
            return PushResult(self.call(self.connector.push, entity, op["payload"], op.get("remote_id"),
                                        op.get("remote_version"), request_id=op["request_id"]))
        except RunAborted:
            raise
        except SyncError as exc:
            return PushResult(error=exc)

    def after_push(self, entity, link, record, shape, action, why, label, op, result, *, stale_retry=True) -> None:
        side = "to_remote"
        local_id = record.id if record is not None else (link.local_id if link else None)
        error = result.error
        if error is None:
            rec = result.record
            if action == "deleted":
                self.wrote[entity] += 1
                link.status, link.pending, link.error = "deleted", None, ""
                if rec is not None and rec.version:
                    link.remote_version = rec.version   # reading it back is not a change there
                link.synced_at = utcnow()
                what = "deactivated there" if entity in self.connector.deactivate_only else "deleted there"
                self.note(entity, side, "deleted", local_id=local_id, remote_id=link.remote_id, label=label,
                          message=f"{why}: {what}")
                return
            self.wrote[entity] += 1
            if link is None:
                link = self.new_link(entity, local_id=local_id)
            link.label = label
            try:
                remote = self.remote_shape(entity, rec) if rec is not None else None
            except MissingLink:
                remote = None
            self._synced(link, shape, remote, rec)
            self.note(entity, side, action, local_id=local_id, remote_id=rec.id if rec else None, label=label,
                      message=why)
            self._check_totals(entity, link, shape, remote, label)
            return
        if isinstance(error, StaleVersionError) and stale_retry and not self._in_stale_retry \
                and link is not None and link.remote_id:
            # someone changed it there meanwhile: read it again and merge
            rec = self.call(self.connector.fetch, entity, link.remote_id)
            if rec is None:
                error = NotFoundError("the record no longer exists in the accounting system")
            else:
                cfg = entity_config(self.connection, entity, self.connector.entities)
                if action == "deleted":
                    op = dict(op, remote_version=rec.version)
                    self.after_push(entity, link, record, shape, action, why, label, op, self._one(entity, op),
                                    stale_retry=False)
                    return
                self._in_stale_retry = True
                try:
                    self.merge(entity, cfg, link, record, self.remote_shape(entity, rec), rec)
                finally:
                    self._in_stale_retry = False
                return
        if link is None:
            link = self.new_link(entity, local_id=local_id)
        link.label = label
        if isinstance(error, NotFoundError) and action == "updated" and self._still_there(entity, link):
            # "not found" while the record is there: something it refers to is missing or inactive
            error = SyncError(f"the accounting system refused it, though the record exists there: {error.message}")
        if isinstance(error, NotFoundError) and action != "created":
            link.status, link.pending = "deleted", None
            link.error = "deleted in the accounting system"
            self.note(entity, side, "skipped", local_id=local_id, remote_id=link.remote_id, label=label,
                      message="deleted in the accounting system: not sent again")
            return
        status = "conflict" if isinstance(error, RemoteConflict) else "failed"
        self._fail(link, side, status, error.message)
        self.note(entity, side, status if status == "conflict" else "failed", local_id=local_id,
                  remote_id=link.remote_id, label=label, message=error.message)

    def _check_totals(self, entity, link: Link, shape: dict | None, remote: dict | None, label: str) -> None:
        """A remote that computes a document's tax itself (QuickBooks) may reach another total than
        ours: the difference is a conflict in the run's log (and the link's note), never silence."""
        compare = getattr(self.connector, "total_difference", None)
        if compare is None or shape is None or remote is None:
            return
        why = compare(entity, shape, remote)
        if why:
            log.warning("accounting sync run %s: %s %s: %s", self.run.id, entity, label, why)
            link.error = why[:2000]
            self.note(entity, "to_remote", "conflict", local_id=link.local_id, remote_id=link.remote_id, label=label,
                      message=why)

    def _still_there(self, entity, link: Link) -> bool:
        """Whether the remote record of ``link`` still exists (read again to confirm a "not found")."""
        rec = self.call(self.connector.fetch, entity, link.remote_id) if link.remote_id else None
        return rec is not None and not rec.deleted


def _label(shape: dict) -> str:
    for key in ("name", "number", "last_name"):
        if shape.get(key):
            return str(shape[key])
    return ""


# --- entry points -----------------------------------------------------------------------------------

def start_run(session: Session, connection: Connection, entities=None, *, trigger="manual", mode="inline",
              user_id=None) -> Run:
    run = Run(connection=connection.name, entities=list(entities or []), trigger=trigger, mode=mode,
              status="queued", counts={}, progress={}, http_calls=0, error="", user_id=user_id)
    session.add(run)
    session.flush()
    return run


def execute_run(app, session: Session, run_id: int, *, connector=None, sleep=time.sleep) -> Run:
    """Run a queued run to its end on ``session`` (committing as it goes)."""
    run = session.get(Run, run_id)
    connection = session.get(Connection, run.connection)
    if run.status not in ("queued",):
        return run
    # take it: of two processes given the same queued run, one runs it
    taken = session.execute(update(Run).where(Run.id == run_id, Run.status == "queued")
                            .values(status="running", started_at=utcnow())
                            .execution_options(synchronize_session=False)).rowcount
    session.commit()
    session.refresh(run)
    if not taken:
        return run
    try:
        engine = Engine(app, session, connection, run, connector=connector, sleep=sleep)
    except CRMError as exc:
        run.status, run.error, run.finished_at = "failed", exc.message, utcnow()
        session.commit()
        return run
    wanted = run.entities or None
    with acting_as(sync_actor(session, connection)):  # what a run changes here, the sync did
        return engine.execute(wanted)


def sync_actor(session: Session, connection: Connection):
    """The user a connection's runs act as: the audit trail says "QuickBooks sync", not the
    administrator who pressed Sync now."""
    title = connection.name.replace("_", " ").title()
    return system_user(session, f"sync-{connection.name}", f"{title} sync")


def pending_estimate(session: Session, connection: Connection) -> int:
    """How many records a run would at least look at on our side (to choose inline or background)."""
    from sqlalchemy import func
    if not (connection.state or {}).get("pushed"):
        return 10**9  # first run: everything
    outbox = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.connection == connection.name))
    retry = session.scalar(select(func.count()).select_from(Link).where(Link.connection == connection.name,
                                                                       Link.pending.is_not(None)))
    return (outbox or 0) + (retry or 0)


__all__ = ["Engine", "RunAborted", "execute_run", "start_run", "pending_estimate", "suppressed", "Counter", "dt"]
