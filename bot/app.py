"""Wiring: Settings, then repository, then services, then Application, handlers, jobs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import signal
import time
from collections import deque
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes

import handlers
from bot.aiohttp_request import AiohttpRequest, UpdatesRequest
from bot.alerts import AlertTracker
from bot.chats import ChatService
from bot.clock import Clock, SystemClock
from bot.delivery.outbox import ReplyOutbox
from bot.delivery.queue import DeliveryService
from bot.delivery.sender import TelegramSender
from bot.errors import NewsbotError, StorageError
from bot.feed_polling import FeedScheduler
from bot.feeds.fetch import Fetcher
from bot.finishing import cancel_and_wait
from bot.ingest import Ingestor, ingest_workers
from bot.logs import register_secret
from bot.metrics import MetricsExposition, Snapshot, health_problems
from bot.models import ChatKey, DeliveryStatus
from bot.roles import LeaderRole, process_name
from bot.services import SERVICES_KEY, Services
from bot.settings import Settings
from bot.stats import StatsService
from bot.stopping import StopSignals
from bot.storage.opening import open_lease_store, open_repository
from bot.texts import text
from bot.votes import VoteService
from bot.web import HttpEndpoint, metrics_app, webhook_app

log = logging.getLogger("newsbot")
TICK_SECONDS = 2.0
MIN_TIMER_SECONDS = 0.25  # floor for timers under a fast simulated clock
CHECKPOINT_SECONDS = 60.0
PRUNE_SECONDS = 3600.0
ALERT_SECONDS = 60.0
HEALTH_LOOK = 50  # the chats waiting longest that /healthz looks at
# On a shared database another process may store the articles: their commit notifies the
# leader (LISTEN/NOTIFY), and it looks for new pending deliveries this often anyway (a tick is
# heavier: it looks at every chat's digest).
WAKE_SECONDS = 1.0
WAKE_SPACING = 0.1  # notifications closer than this share one look
UPDATES_RETRY_SECONDS = 3.0  # a new leader's tries to start polling while the API is away
# Longest a poll waits for the last updates to be handled before confirming them anyway: well
# under INTERFACE.md section 8's 2 s, so one slow update never holds other chats' replies long
UPDATES_SETTLE_SECONDS = 1.0

COMMANDS = [
    ("help", "What newsbot does and how to use it"),
    ("topics", "Topics with follow buttons"),
    ("follow", "Follow a topic or \"keywords\""),
    ("unsubscribe", "Stop following a topic, or all"),
    ("list", "This chat's topics and settings"),
    ("digest", "Briefing now, or /digest HH:MM or off"),
    ("timezone", "Time zone, e.g. Europe/Vilnius"),
    ("lang", "Article languages, e.g. en lt, or any"),
    ("quiet", "Quiet hours, e.g. 22:00-07:00, or off"),
    ("images", "Lead images: preview, photo or off"),
    ("language", "Bot language: en ru be uk lt pl"),
]


def _polling_failed(exc: TelegramError) -> None:
    """PTB retries getUpdates itself (with backoff); one line instead of its traceback."""
    log.warning("getUpdates failed; retrying", extra={"error": str(exc)})


YOUNG_GENERATION_THRESHOLD = 10_000


def settle_start_up_heap() -> None:
    """Keep what start-up made out of the garbage collector's scans, and collect less often.

    What start-up made (modules, settings, models) lives as long as the process. A fan-out
    makes thousands of objects and so triggers full collections, each of which walked all of
    it: on the 1M-chat benchmark they were the follower look-up's slowest percent (p99 53 ms,
    22 ms with the freeze).

    The young generation's threshold goes from 700 to 10,000. It counts containers
    allocated and not yet freed; a look-up holds ~3,000 chat keys and as many targets at
    once, so at 700 each one ran a dozen young collections and about one middle one (~1.5
    ms of a 9 ms look-up, and most of its slowest percent). Nearly everything here is freed
    by reference counting, so a larger young generation costs no memory to speak of.
    """
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


class NewsbotApp:
    """One bot process: ingest, and (while it leads) updates, scheduling and delivery.

    Args:
        settings: The validated settings.
        clock: The bot's clock (the soak passes a simulated one).
        role: ``all``, ``ingest`` (feeds only) or ``bot`` (updates and delivery only); see
            ``bot/roles.py``.
    """

    def __init__(self, settings: Settings, clock: Clock | None = None,
                 role: str = "all") -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.role = role
        self.holder = process_name()
        # Durations of durable writes since the last scrape (``/metrics``), bounded.
        self._write_seconds: deque[float] = deque(maxlen=10_000)
        self.repo = open_repository(settings.storage, self.clock,
                                    on_write=self._write_seconds.append)
        try:
            chats = ChatService(self.repo, settings, self.clock)
            self.delivery = DeliveryService(self.repo, settings, self.clock, chats)
            self.services = Services(
                settings=settings, clock=self.clock, repo=self.repo, chats=chats,
                delivery=self.delivery, votes=VoteService(self.repo, self.clock),
                stats=StatsService(self.repo, settings, self.clock),
                outbox=ReplyOutbox(self.delivery.pacer))
            self.fetcher = Fetcher(settings.ingest.timeout_seconds, settings.ingest.max_bytes)
            self.ingestor = Ingestor(settings, self.fetcher, self.clock, self.repo,
                                     workers=ingest_workers(), plan=self.delivery.plan)
            # ``--role bot`` polls no feed: another process does.
            self.feeds = FeedScheduler(
                settings.feeds if role != "bot" else (), self.repo, self.ingestor,
                clock=self.clock, holder=self.holder, timer=self._timer,
                on_new_articles=self.delivery.kick)
            self.application = self._build_application()
        except BaseException:
            self.repo.core.close()  # nothing has run on the event loop yet
            raise
        # Nothing is sent until this process leads (at once on a data folder).
        self.delivery.dispatching = False
        self.leader: LeaderRole | None = None
        if role != "ingest":
            try:
                self._lease_store = open_lease_store(self.repo, settings.storage, self.clock)
            except BaseException:
                self.repo.core.close()
                raise
            self.leader = LeaderRole(self._lease_store, self.holder, self._lead,
                                     self._stand_by)
            self.delivery.may_send = self.leader.holds
        self._leader_jobs: list[Any] = []
        self._listener: asyncio.Task[None] | None = None
        self._updates: asyncio.Task[None] | None = None
        self._webhook_secret = ""
        self._stop = asyncio.Event()
        self.alerts = AlertTracker()
        self._started = self.clock.now()
        self.metrics: HttpEndpoint | None = None
        if settings.metrics.listen:
            self.metrics = HttpEndpoint(settings.metrics.listen, metrics_app(
                MetricsExposition(self._snapshot), self._health))
        self.webhook: HttpEndpoint | None = None

    async def _snapshot(self) -> Snapshot:
        d = self.delivery
        write_seconds = list(self._write_seconds)
        self._write_seconds.clear()
        return Snapshot(
            feeds_polled=self.ingestor.polled_total, feeds_failed=self.ingestor.failed_total,
            articles_ingested=self.ingestor.ingested_total, sent=d.sent_total,
            failed=d.failed_total, retried=d.retried_total, throttled=d.throttled_total,
            # A count, not the pending records themselves: a scrape must not read the queue.
            queue_depth=(await self.repo.delivery_counts())[DeliveryStatus.PENDING.value],
            votes=await self.repo.vote_count(), write_seconds=write_seconds)

    async def _health(self) -> list[str]:
        now = self.clock.now()
        # The oldest waiting chats only: a chat held by quiet hours or a digest waits by
        # design, and a scrape must not read the whole queue.
        ready = [oldest for key, oldest in await self.repo.oldest_pending(HEALTH_LOOK)
                 if (chat := await self.repo.get_chat(key)) is not None
                 and self.delivery.instant_ready(chat, now)]
        interval = max((f.interval_seconds for f in self.settings.feeds), default=600)
        return health_problems(now, self.feeds.last_poll if self.settings.feeds else now,
                               interval, min(ready, default=None), self._started)

    def _build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        assert self.settings.token is not None
        api = self.settings.api_url
        file_api = api[: -len("bot")] + "file/bot" if api.endswith("/bot") else api
        # PTB marks a queued update done once its handlers have run: until then it stays
        # unconfirmed with Telegram (see UpdatesRequest)
        queue: asyncio.Queue[object] = asyncio.Queue()
        # PTB adds the long-poll timeout (20 s) to this read timeout
        updates = UpdatesRequest(queue.join, 2, settle_timeout=UPDATES_SETTLE_SECONDS,
                                 read_timeout=15, write_timeout=15, connect_timeout=10,
                                 pool_timeout=10)
        application = (
            ApplicationBuilder()
            .token(self.settings.token.reveal())
            .base_url(api)
            .base_file_url(file_api)
            .concurrent_updates(True)
            .request(AiohttpRequest(64, read_timeout=15, write_timeout=15, connect_timeout=10,
                                    pool_timeout=10))
            .update_queue(queue)
            .get_updates_request(updates)
            .build()
        )
        application.bot_data[SERVICES_KEY] = self.services
        handlers.register(application)
        return application

    # ------------------------------------------------------------------ jobs
    async def _schedule_jobs(self) -> None:
        """Every process's jobs: its feed polls (unless ``--role bot``) and the store's upkeep."""
        jq = self.application.job_queue
        assert jq is not None
        await self.feeds.start(jq)
        jq.run_repeating(self._checkpoint_job, interval=CHECKPOINT_SECONDS,
                         first=CHECKPOINT_SECONDS, name="checkpoint")

    def _schedule_leader_jobs(self) -> None:
        """The leader's jobs: digests and retries (tick), pruning, admin alerts."""
        jq = self.application.job_queue
        assert jq is not None
        jobs = [jq.run_repeating(self._tick_job, interval=self._timer(TICK_SECONDS), first=1.0,
                                 name="tick")]
        if self.repo.shared:
            jobs.append(jq.run_repeating(self._wake_job, interval=WAKE_SECONDS,
                                         first=WAKE_SECONDS, name="wake"))
        prune_every = max(self._timer(PRUNE_SECONDS), 5.0)
        jobs.append(jq.run_repeating(self._prune_job, interval=prune_every,
                                     first=min(30.0, prune_every), name="prune"))
        if self.settings.telegram.admins:
            jobs.append(jq.run_repeating(self._alerts_job, interval=ALERT_SECONDS,
                                         first=ALERT_SECONDS, name="alerts"))
        self._leader_jobs = jobs

    def _timer(self, seconds: float) -> float:
        """Real seconds for a timer of ``seconds`` on the bot's clock (simulated or not)."""
        return max(MIN_TIMER_SECONDS, self.clock.wall_seconds(seconds))

    async def _tick_job(self, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.delivery.tick()

    async def _wake_job(self, _context: ContextTypes.DEFAULT_TYPE) -> None:
        with contextlib.suppress(StorageError):  # the store is away; the next one retries
            await self.delivery.kick()

    async def _checkpoint_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.repo.maintain()
        if context.job_queue is not None and not self._stop.is_set():
            await self.feeds.ensure(context.job_queue)

    async def _prune_job(self, _context: ContextTypes.DEFAULT_TYPE) -> None:
        cutoff = self.clock.now() - timedelta(days=self.settings.storage.retention_days)
        dropped = await self.repo.prune(cutoff)
        if dropped:
            log.info("pruned old articles", extra={"count": dropped})

    async def _alerts_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock.now()
        names = {f.url: f.name for f in self.settings.feeds}
        alerts = self.alerts.feeds(await self.repo.feed_states(), names, now)
        alerts += self.alerts.deliveries(self.delivery.failed_total, now)
        for alert in alerts:
            log.warning("admin alert", extra={"alert": alert.key, **alert.params})
            for admin in self.settings.telegram.admins:
                chat = await self.repo.get_chat(ChatKey(admin))
                message = text(alert.key, chat.ui_language if chat else None, **alert.params)
                try:
                    async with self.delivery.pacer.slot(admin, private=True):
                        await context.bot.send_message(admin, message,
                                                       parse_mode=ParseMode.HTML)
                except TelegramError as exc:
                    log.warning("admin alert not sent", extra={"admin": admin,
                                                               "error": str(exc)})

    # ------------------------------------------------------------------ life cycle
    async def _set_commands(self) -> None:
        bot = self.application.bot
        commands = [BotCommand(n, d) for n, d in COMMANDS]
        try:
            await bot.set_my_commands(commands, scope=BotCommandScopeDefault())
            admin_commands = [*commands, BotCommand("stats", "Subscribers, feeds, votes")]
            for admin in self.settings.telegram.admins:
                with contextlib.suppress(TelegramError):
                    await bot.set_my_commands(admin_commands, scope=BotCommandScopeChat(admin))
        except TelegramError as exc:
            log.warning("could not register the command menu", extra={"error": str(exc)})

    def request_stop(self) -> None:
        """Ask the running bot to shut down gracefully."""
        self._stop.set()
        self.feeds.stop()

    async def run(self, stops: StopSignals | None = None) -> None:
        """Run until SIGTERM/SIGINT; then finish in-flight sends, flush storage, return.

        Args:
            stops: The process's stop signals, seen by a thread of their own (``newsbot
                run``; a stop during start-up counts at once). Without them (a bot run
                inside tests) the loop's own signal handlers are used.
        """
        loop = asyncio.get_running_loop()
        if stops is not None:
            def stop_from_signal_thread() -> None:
                with contextlib.suppress(RuntimeError):  # the loop has closed: all done
                    loop.call_soon_threadsafe(self.request_stop)

            stops.when_requested(stop_from_signal_thread)
        else:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self.request_stop)
        app = self.application
        try:
            if self.metrics is not None:
                # Bound first: a taken port is a configuration problem, reported before
                # anything else starts.
                try:
                    await self.metrics.start()
                except OSError as exc:
                    raise NewsbotError(f"metrics.listen {self.settings.metrics.listen}: can't "
                                       f"listen ({exc.strerror or exc})") from None
                log.info("metrics on", extra={"listen": self.settings.metrics.listen})
            if self._stop.is_set() or not await self._initialize():
                return
            self.delivery.sender = TelegramSender(app.bot)
            await app.start()
            webhook = self.settings.telegram.webhook_url
            if webhook and self.role != "ingest":
                # Every process serves the webhook: a load balancer may pick any of them.
                await self._serve_webhook(webhook)
            await self._schedule_jobs()
            if self.leader is not None:
                self.leader.start()
            settle_start_up_heap()
            await self._stop.wait()
            log.info("shutting down")
        finally:
            await self._shutdown()

    async def _lead(self) -> None:
        """Become the leader: sending, the schedule, the command menu and updates.

        Sending starts first and never waits for the Bot API: updates (polling, or the
        webhook registration) are taken in the background, retried until Telegram answers.
        """
        self._schedule_leader_jobs()
        self.delivery.dispatching = True
        await self.delivery.kick()
        if self.repo.shared:
            self._listener = asyncio.create_task(self._listen_for_deliveries(),
                                                 name="pending-listener")
        self._updates = asyncio.create_task(self._take_updates(), name="take-updates")

    async def _take_updates(self) -> None:
        """Register the webhook or start polling; retried every few seconds until it works."""
        app = self.application
        assert app.updater is not None
        await self._set_commands()
        webhook = self.settings.telegram.webhook_url
        warned = False
        while True:
            try:
                if webhook:
                    await app.bot.set_webhook(webhook, secret_token=self._webhook_secret,
                                              allowed_updates=Update.ALL_TYPES)
                    log.info("webhook registered", extra={"url": webhook})
                elif not app.updater.running:
                    await app.updater.start_polling(
                        allowed_updates=Update.ALL_TYPES, timeout=20, poll_interval=0.0,
                        error_callback=_polling_failed)
                    log.info("polling for updates")
                return
            except TelegramError as exc:
                if not warned:
                    log.warning("Bot API not reachable; taking updates when it is",
                                extra={"error": str(exc)})
                    warned = True
                await asyncio.sleep(UPDATES_RETRY_SECONDS)

    async def _listen_for_deliveries(self) -> None:
        """Send what another process stored as soon as its commit says so."""
        last = 0.0
        async for _ in self.repo.pending_signals():
            if time.monotonic() - last < WAKE_SPACING:
                continue  # a burst: the look just made (or the next wake job) covers it
            last = time.monotonic()
            with contextlib.suppress(StorageError):
                await self.delivery.kick()

    async def _stand_by(self) -> None:
        """Stop leading: no more getUpdates, sending or scheduled jobs from this process."""
        self.delivery.dispatching = False
        await cancel_and_wait(self._updates)
        await cancel_and_wait(self._listener)
        self._updates = self._listener = None
        for job in self._leader_jobs:
            job.schedule_removal()
        self._leader_jobs = []
        updater = self.application.updater
        if updater is not None and updater.running:
            await asyncio.wait_for(updater.stop(), 3.0)

    async def _serve_webhook(self, webhook: str) -> None:
        """Serve the webhook path on ``webhook_listen``; the leader registers the URL.

        Our own aiohttp listener rather than PTB's: it refuses bodies over 1 MB and requests
        without the secret before reading them (PTB's reads up to 100 MB first). Without
        ``TELEGRAM_WEBHOOK_SECRET`` a secret is generated; on a database the first process
        keeps it there and every other one uses the same.
        """
        configured = self.settings.webhook_secret
        secret = configured.reveal() if configured is not None else \
            await self.repo.shared_value("webhook_secret", secrets.token_urlsafe(32))
        register_secret(secret)
        self._webhook_secret = secret
        # The proxy forwards the public URL's path; Telegram posts exactly there.
        path = urlsplit(webhook).path
        application = self.application

        async def on_update(data: dict[str, Any]) -> None:
            # Telegram keeps an update until the webhook answers 200, and sends it again after
            # a failure (through the load balancer, to any replica): answering once it is
            # handled means a replica killed meanwhile loses no press or command.
            update = Update.de_json(data, application.bot)
            await application.update_processor.process_update(
                update, application.process_update(update))

        listen = self.settings.telegram.webhook_listen
        self.webhook = HttpEndpoint(listen, webhook_app(path, secret, on_update))
        try:
            await self.webhook.start()
        except OSError as exc:
            raise NewsbotError(f"telegram.webhook_listen {listen}: can't listen "
                               f"({exc.strerror or exc})") from None
        log.info("webhook mode", extra={"listen": listen})

    async def _initialize(self) -> bool:
        """Reach the Bot API (a few tries over ~20 s); False when a stop came first.

        Only a rejected token is final. Anything else (no connection, a 5xx from a proxy, a
        200 whose body is not JSON: "Invalid server response") may pass, so it is retried.
        """
        for attempt in range(5):
            try:
                await self.application.initialize()
                return True
            except InvalidToken:
                raise
            except TelegramError as exc:
                if attempt == 4:
                    raise
                log.warning("Bot API not reachable, retrying", extra={"error": str(exc)})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 2.0 * (attempt + 1))
                if self._stop.is_set():
                    return False
        return False

    async def _shutdown(self) -> None:
        app = self.application
        self.feeds.stop()
        self.ingestor.stop()
        if self.leader is not None:
            try:
                await asyncio.wait_for(self.leader.stop(), 4.0)
            except TimeoutError:
                log.warning("leader duties did not stop in time")
        await self.services.outbox.close(grace=1.0)
        await self.services.edits.close(grace=1.0)
        try:
            await asyncio.wait_for(self.delivery.shutdown(grace=5.0), 6.0)
        except TimeoutError:
            log.warning("in-flight sends did not finish in time")
        if self.webhook is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.webhook.stop(), 2.0)
        with contextlib.suppress(Exception):
            if app.updater is not None and app.updater.running:
                await asyncio.wait_for(app.updater.stop(), 2.0)
        with contextlib.suppress(Exception):
            if app.running:
                await asyncio.wait_for(app.stop(), 2.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(app.shutdown(), 2.0)
        # Application.shutdown does nothing unless initialize finished; after a failed getMe
        # (unreachable API, rejected token) the bot's HTTP sessions are open and only this
        # closes them. It is a no-op when the application already did it.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(app.bot.shutdown(), 2.0)
        if self.metrics is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.metrics.stop(), 2.0)
        if self.leader is not None:
            # Sends are settled: a standby may lead now without sending anything twice.
            self.leader.release()
        await self.fetcher.close()
        await self.ingestor.close()
        if self.leader is not None and self._lease_store is not self.repo.core:
            self._lease_store.close()
        await self.repo.close()
