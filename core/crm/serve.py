"""``crm serve``: the app behind gunicorn, optionally with a background worker beside it.

gunicorn's master process forks ``workers`` web processes, each building its own app (nothing
is shared across the fork: no database connection, no queue) and serving ``threads`` requests
at a time. Signals are gunicorn's: ``HUP`` reloads gracefully (new web processes replace the old
ones, which finish their requests and stop; forked from the master, which imported the code and
read the environment at start, they run that code and environment: an upgrade needs a restart),
``TERM`` stops gracefully, ``INT`` (Ctrl+C) at once.

With ``with_worker`` the master also runs ``crm worker`` as a child process
(:class:`BackgroundWorker`): started when the server is ready, restarted if it dies (waiting a
little longer each time it dies again quickly) and on ``HUP``, stopped with the server. The
child gets ``INT`` to stop (huey finishes the tasks it is running), then ``KILL`` after
``graceful_timeout`` seconds; it also gets ``INT`` from the kernel if the master dies.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from crm import logs

log = logging.getLogger("crm.serve")

#: web processes at most by default, whatever the CPU count (each holds the whole app in memory)
MAX_DEFAULT_WORKERS = 8
DEFAULT_THREADS = 4
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


def default_workers(cpus: int | None = None) -> int:
    """gunicorn's rule of thumb, 2 x CPUs + 1, capped at :data:`MAX_DEFAULT_WORKERS`."""
    cpus = cpus or os.cpu_count() or 1
    return min(2 * cpus + 1, MAX_DEFAULT_WORKERS)


class CrmLogger(Logger):
    """gunicorn's logs in the project's format (``CRM_LOG_FORMAT``), the access log with the
    request's id (the answer's ``X-Request-ID``) and, as JSON, its parts as fields."""

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers + self.access_log.handlers:
            logs.decorate(handler)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        http = {"method": atoms["m"], "path": atoms["U"], "status": atoms["s"], "bytes": atoms["B"],
                "ms": atoms["M"], "remote": atoms["h"]}
        request_id = atoms["{x-request-id}o"]
        try:
            self.access_log.info(self.cfg.access_log_format, atoms,
                                 extra={"request_id": request_id if request_id != "-" else None, "http": http})
        except Exception:  # noqa: BLE001  as gunicorn does: a log line must not fail the request
            self.exception("could not write the access log")


class CrmServer(BaseApplication):
    """gunicorn serving :func:`crm.create_app` with the given settings."""

    def __init__(self, options: dict, background: BackgroundWorker | None = None):
        self.options = options
        self.background = background
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings of newer gunicorns are left out by older ones
                self.cfg.set(key, value)
        self.cfg.set("logger_class", CrmLogger)
        if self.background is not None:
            background = self.background
            self.cfg.set("when_ready", lambda _arbiter: background.start())
            self.cfg.set("on_reload", lambda _arbiter: background.restart())
            self.cfg.set("on_exit", lambda _arbiter: background.stop())

    def load(self):
        """In each web process: its own app."""
        from crm import create_app
        logs.configure()
        return create_app()


def gunicorn_options(host: str, port: int, workers: int, threads: int, timeout: int) -> dict:
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": timeout,
        "graceful_timeout": 30,
        "proc_name": "crm",
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        # proxies are trusted by the app alone (CRM_TRUSTED_PROXIES), not by gunicorn too
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        # controlled by signals (HUP, TERM), not by a socket in the home folder
        "control_socket_disable": True,
    }


def serve(options: dict, with_worker: bool = False, worker_threads: int = 2) -> None:
    """Run gunicorn until it is stopped (blocks)."""
    background = BackgroundWorker(worker_threads, options["graceful_timeout"]) if with_worker else None
    CrmServer(options, background).run()


def _die_with_parent() -> None:
    """In the child, before it runs: the kernel sends it ``INT`` when its parent dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class BackgroundWorker:
    """``crm worker`` as a child process of the server, kept running until :meth:`stop`. A thread
    of the server's master watches it (and alone starts and restarts it), so that the master's
    own loop never waits for it."""

    #: a child that ran this long before dying is restarted at once; sooner, after a pause
    #: that doubles each time (at most :data:`MAX_PAUSE`)
    HEALTHY_AFTER = 30.0
    MAX_PAUSE = 60.0

    def __init__(self, threads: int = 2, stop_timeout: float = 30.0):
        self.command = [sys.executable, "-m", "crm.cli", "worker", "--workers", str(threads)]
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._restarting = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._keep_running, name="crm-background-worker", daemon=True)
        self._thread.start()

    def restart(self) -> None:
        """Replace the child by a new one (``HUP``: new code, new settings); returns at once."""
        log.info("restarting the background worker")
        self._restarting.set()

    def stop(self) -> None:
        """Stop the child (waiting for its running tasks, at most ``stop_timeout``) and the watch."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self.stop_timeout + 10)
            log.info("background worker stopped")

    def _keep_running(self) -> None:
        pause = 1.0
        while True:
            started = time.monotonic()
            # a session of its own: Ctrl+C in the terminal reaches the server, which stops it
            self.process = subprocess.Popen(self.command, start_new_session=True, preexec_fn=_die_with_parent)
            log.info("background worker started (pid %s)", self.process.pid)
            while self.process.poll() is None and not (self._stopping.is_set() or self._restarting.is_set()):
                time.sleep(0.5)
            if self._stopping.is_set() or self._restarting.is_set():
                self._terminate()
                if self._stopping.is_set():
                    return
                self._restarting.clear()
                pause = 1.0
                continue
            log.error("background worker (pid %s) stopped (exit status %s); starting it again",
                      self.process.pid, self.process.returncode)
            pause = 1.0 if time.monotonic() - started > self.HEALTHY_AFTER else min(pause * 2, self.MAX_PAUSE)
            if self._stopping.wait(pause):
                return

    def _terminate(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # huey: finish the running tasks, then stop
        try:
            process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("background worker (pid %s) did not stop in %ss: killed", process.pid, self.stop_timeout)
            process.kill()
            process.wait()
