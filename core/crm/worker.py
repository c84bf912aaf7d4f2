"""Background work through a real job queue (huey).

The embedded default keeps the queue in an SQLite file in the instance folder;
with ``CRM_REDIS_URL`` it lives in Redis. ``crm worker`` runs a consumer that
executes queued tasks and runs every scheduled job (the core's and the
plugins', hook ``crm_scheduled_jobs``) on its interval.

Plugins queue long work (a big sync) with :func:`enqueue`, naming a function
``"package.module:function"`` that receives the app and keyword arguments.
"""
from __future__ import annotations

import datetime as dt
import importlib
import os

from flask import Flask
from huey import RedisHuey, SqliteHuey, crontab

from crm.jobs import all_jobs, run_due


def queue(app: Flask):
    """The app's huey instance (created once per app)."""
    huey = app.extensions.get("crm.huey")
    if huey is None:
        huey = _make_huey(app)
        app.extensions["crm.huey"] = huey
    return huey


def _make_huey(app: Flask):
    url = app.config.get("REDIS_URL")
    name = app.config.get("QUEUE_NAME", "crm")
    immediate = bool(app.config.get("QUEUE_IMMEDIATE", False))
    if url:
        huey = RedisHuey(name, url=url, immediate=immediate)
    else:
        huey = SqliteHuey(name, filename=os.path.join(app.instance_path, "jobs.db"), immediate=immediate)

    @huey.task(name="crm.call")
    def call(target: str, kwargs: dict):
        module, _, function = target.partition(":")
        func = getattr(importlib.import_module(module), function)
        with app.app_context():
            return func(app, **kwargs)

    huey.crm_call = call
    huey.crm_jobs = {job.name: _schedule(huey, app, job) for job in all_jobs(app)}
    return huey


def _schedule(huey, app: Flask, job) -> None:
    minutes = max(1, job.every_minutes)
    when = crontab(minute=f"*/{minutes}") if minutes < 60 else crontab(minute="0", hour=f"*/{max(1, minutes // 60)}")

    def run():
        return run_due(app, dt.date.today(), only=job.name)
    run.__name__ = f"job_{job.name}"
    return huey.periodic_task(when, name=f"crm.job.{job.name}")(run)


def enqueue(app: Flask, target: str, **kwargs):
    """Queue ``target(app, **kwargs)`` for the worker; returns huey's result handle."""
    return queue(app).crm_call(target, kwargs)


def run_worker(app: Flask, workers: int = 2) -> None:
    """Consume the queue until interrupted (``crm worker``). Every scheduled job
    also runs once at start-up, so work missed while no worker ran is caught up."""
    huey = queue(app)
    for task in huey.crm_jobs.values():
        task()  # queue one run now
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                    check_worker_health=True)
    consumer.run()
