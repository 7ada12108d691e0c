"""The pure core: language, topics, summaries, schedule maths, pacing."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.pacing import Pacer
from bot.language import detect_language
from bot.models import Chat, ChatKey, ChatType, DeliveryMode, QuietHours, Topic
from bot.schedule_math import (
    digest_due,
    digest_due_at,
    in_quiet_hours,
    last_due,
    next_due,
    parse_hhmm,
)
from bot.summarize import summarize
from bot.topics import TopicMatcher, find_topic
from tests.conftest import corpus_or_skip

BELARUS = Topic("belarus", "Belarus",
                ("Belarus", "Belarusian*", "Minsk", "Беларусь", "Беларуси", "белорус*",
                 "Baltarusija*", "Białoru*"))
LITHUANIA = Topic("lithuania", "Lithuania", ("Lithuania", "Vilnius", "Lietuv*", "Литва"),
                  ("basketball",))


# ------------------------------------------------------------------ language
@pytest.mark.parametrize("lang", ["en", "ru", "be", "uk", "lt", "pl", "de", "lv", "et"])
def test_each_target_language_on_real_sentences(lang: str) -> None:
    path = corpus_or_skip("langid", "lingua_sentences.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    mine = [r["text"] for r in rows if r["lang"] == lang][:20]
    assert len(mine) == 20
    right = sum(detect_language(t) == lang for t in mine)
    assert right >= 19, f"{lang}: {right}/20"


def test_language_is_deterministic_and_uses_hint_for_short_text() -> None:
    text = "Прэзідэнт сустрэўся з амбасадарамі ў Мінску і абмеркаваў эканамічныя пытанні."
    assert {detect_language(text) for _ in range(5)} == {"be"}
    assert detect_language("Minsk", hint="en") == "en"
    assert detect_language("", hint="lt") == "lt"


def test_kazakh_is_not_belarusian() -> None:
    kazakh = "Қазақстан Республикасының Президенті бүгін үкімет отырысын өткізді және сөз сөйледі."
    assert detect_language(kazakh) not in ("be", "ru", "uk")


# ------------------------------------------------------------------ topics
def test_aliases_match_inflections_scripts_and_word_boundaries() -> None:
    m = TopicMatcher([BELARUS, LITHUANIA])
    assert m.match("Opposition in Minsk", "") == ["belarus"]
    assert m.match("", "Новости Беларуси сегодня") == ["belarus"]
    assert m.match("", "Baltarusijai skirtos sankcijos") == ["belarus"]
    assert m.match("", "Baltarusijos sienos") == [], "Baltarusija* needs the whole stem"
    assert m.match("", "Sytuacja na Białorusi") == ["belarus"]
    assert m.match("Lietuvos prezidentas", "") == ["lithuania"]
    assert m.match("Lietuvoje", "") == ["lithuania"]
    assert m.match("Minsky moment in markets", "") == [], "no match inside a longer word"
    assert m.match("BELARUSIAN athletes", "") == ["belarus"]


def test_exclusions_and_title_weight() -> None:
    m = TopicMatcher([BELARUS, LITHUANIA])
    assert m.match("Lithuania wins basketball final", "") == []
    scores = m.scores("Belarus news", "Vilnius and Vilnius")
    assert scores["belarus"] == 3 and scores["lithuania"] == 2


def test_multiword_phrases_and_hostile_input_are_cheap() -> None:
    m = TopicMatcher([Topic("kw", "kw", ("Ostrovets nuclear plant", "sport*"))])
    assert m.match("", "the Ostrovets nuclear plant restarted") == ["kw"]
    assert m.match("", "the Ostrovets nuclear station") == []
    evil = Topic("evil", "evil", ("(a+)+$", "a" * 10_000, ".*", "[", "\\"))
    m2 = TopicMatcher([evil])
    assert m2.match("a" * 50_000, "(a+)+$ .* [ \\") == ["evil"]


def test_find_topic_by_id_name_and_alias_in_any_script() -> None:
    topics = [BELARUS, LITHUANIA]
    assert find_topic(topics, "belarus") is BELARUS
    assert find_topic(topics, "BELARUS") is BELARUS
    assert find_topic(topics, "беларусь") is BELARUS
    assert find_topic(topics, "Lietuvos") is LITHUANIA
    assert find_topic(topics, "mars") is None
    assert find_topic(topics, "<b>") is None


# ------------------------------------------------------------------ summaries
BODY = "\n".join([
    "Belarusian authorities released 14 political prisoners on Tuesday after talks with US "
    "envoys.",
    "The group included a journalist who had spent four years in a penal colony.",
    "Officials in Minsk did not comment on the terms of the release.",
    "The European Union said it would study the decision carefully.",
    "Exiled opposition leader Sviatlana Tsikhanouskaya welcomed the news but urged more "
    "releases.",
    "Rights groups say more than 1,100 political prisoners remain behind bars in Belarus.",
])


@pytest.mark.parametrize("algorithm", ["hybrid", "lexrank", "lsa", "textrank", "luhn",
                                       "reduction", "sumbasic", "kl"])
def test_summary_sentence_limit_order_and_body_only(algorithm: str) -> None:
    title = "Belarus frees 14 political prisoners"
    out = summarize(BODY + "\n" + title, title, "en", algorithm, 3)
    assert 1 <= len(out) <= 3
    body_sentences = BODY.split("\n")
    positions = [body_sentences.index(s) for s in out]
    assert positions == sorted(positions), "sentences keep article order"
    assert title not in out


def test_summary_of_russian_and_long_input_is_bounded() -> None:
    text = " ".join(f"Предложение номер {i} о событиях в Минске и Вильнюсе." for i in range(400))
    out = summarize(text, "Заголовок", "ru", "kl", 2)
    assert len(out) == 2


# ------------------------------------------------------------------ schedule maths
def test_digest_due_across_dst_in_vilnius() -> None:
    # Europe/Vilnius springs forward at 03:00 on 2026-03-29 and falls back on 2026-10-25.
    dues = []
    now = datetime(2026, 3, 27, 0, 0, tzinfo=UTC)
    end = datetime(2026, 3, 31, 0, 0, tzinfo=UTC)
    while now < end:
        dues.append(last_due(now, "08:00", "Europe/Vilnius"))
        now += timedelta(minutes=7)
    days = sorted(set(dues))
    assert [d.astimezone(UTC).hour for d in days] == [6, 6, 6, 5, 5][: len(days)]
    assert len(days) == len({d.date() for d in days}), "exactly one due instant per day"
    # On the fall-back day an ambiguous time still happens once.
    autumn = [last_due(datetime(2026, 10, 25, h, tzinfo=UTC), "03:30", "Europe/Vilnius")
              for h in range(0, 24)]
    assert len({d for d in autumn if d.date() == datetime(2026, 10, 25).date()}) == 1


def test_next_due_finds_exactly_the_instants_last_due_does() -> None:
    # The database finds due digests by next_due(since) <= now; the rule is last_due(now) >
    # since. Random pairs across both of Vilnius's DST changes and zones east and west.
    rng = random.Random(3)
    base = datetime(2026, 3, 20, tzinfo=UTC)
    for _ in range(4000):
        zone = rng.choice(["Europe/Vilnius", "America/New_York", "Asia/Kathmandu", "UTC"])
        hhmm = rng.choice(["00:00", "03:30", "08:00", "23:59", "02:15"])
        since = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 230))
        now = since + timedelta(minutes=rng.randrange(0, 60 * 24 * 3))
        assert (last_due(now, hhmm, zone) > since) == (next_due(since, hhmm, zone) <= now), (
            zone, hhmm, since, now)
    chat_ = Chat(ChatKey(1), ChatType.PRIVATE, mode=DeliveryMode.DIGEST, digest_time="08:00",
                 timezone="Europe/Vilnius", digest_since=datetime(2026, 1, 10, 7, tzinfo=UTC))
    assert digest_due_at(chat_) == datetime(2026, 1, 11, 6, tzinfo=UTC), "08:00 in Vilnius"
    assert not digest_due(chat_, datetime(2026, 1, 11, 5, 59, tzinfo=UTC))
    assert digest_due(chat_, datetime(2026, 1, 11, 6, tzinfo=UTC))
    assert digest_due_at(replace(chat_, mode=DeliveryMode.INSTANT)) is None
    assert digest_due_at(replace(chat_, active=False)) is None


def test_last_due_and_quiet_hours() -> None:
    now = datetime(2026, 1, 10, 21, 0, tzinfo=UTC)  # 23:00 in Vilnius (UTC+2)
    assert last_due(now, "08:00", "Europe/Vilnius") == datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
    quiet = QuietHours("22:00", "07:00")
    assert in_quiet_hours(now, quiet, "Europe/Vilnius")
    assert not in_quiet_hours(now, quiet, "UTC")
    assert in_quiet_hours(datetime(2026, 1, 11, 4, 59, tzinfo=UTC), quiet, "Europe/Vilnius")
    assert not in_quiet_hours(datetime(2026, 1, 11, 5, 0, tzinfo=UTC), quiet, "Europe/Vilnius")
    assert not in_quiet_hours(now, None, "UTC")
    with pytest.raises(ValueError):
        parse_hhmm("24:00")
    with pytest.raises(ValueError):
        parse_hhmm("8")


# ------------------------------------------------------------------ pacing
def test_pacer_spaces_chats_and_global_rate() -> None:
    clock = [0.0]
    pacer = Pacer(global_rate=10, private_interval=1.0, group_per_minute=20,
                  monotonic=lambda: clock[0], group_window=60.0)
    waits = [pacer.reserve_chat(1, private=True) for _ in range(3)]
    assert waits == pytest.approx([0.0, 1.0, 2.0])
    group = [pacer.reserve_chat(-5, private=False) for _ in range(25)]
    assert group[:20] == pytest.approx([0.0] * 20), "a burst within the minute's budget"
    assert group[20:] == pytest.approx([60.0] * 5), "then the window must move on"
    many = [pacer.reserve_global() for _ in range(20)]
    spacing = [b - a for a, b in zip(many, many[1:], strict=False)]
    assert spacing == pytest.approx([0.1] * 19)
    clock[0] = 100.0
    assert pacer.reserve_global() == 0.0, "idle time is not owed later"
    pacer.delay_chat(7, 5.0)
    assert pacer.reserve_chat(7, private=True) == pytest.approx(5.0)
    pacer.pause_all(10.0)
    assert pacer.reserve_chat(8, private=True) == pytest.approx(10.0)
    assert pacer.reserve_global() >= 10.0


def test_names_with_baltic_letters_do_not_change_an_english_text() -> None:
    text = ("President Gitanas Nausėda and Prime Minister Evika Siliņa met in Vilnius on "
            "Monday to discuss the new rail link between the two capitals.")
    assert detect_language(text) == "en"


def test_pacer_window_counts_requests_in_flight_and_answered_in_the_last_second() -> None:
    clock = [0.0]
    pacer = Pacer(global_rate=5, monotonic=lambda: clock[0])
    assert [pacer._window_wait() for _ in range(5)] == [0.0] * 5
    clock[0] = 3.0  # five slow requests still in flight: however long they take, no more
    assert pacer._window_wait() == pytest.approx(0.01)
    for _ in range(5):
        pacer.release(1, private=True)  # all answered at t=3: the server saw them by then
    clock[0] = 3.5
    assert pacer._window_wait() == pytest.approx(0.501)
    clock[0] = 4.01
    assert pacer._window_wait() == 0.0


async def test_a_sender_waits_for_its_place_in_the_window_however_long_it_takes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by the 10,000-chat fan-out: after losing 1,000 rounds to other senders, a sender
    # went without a place, and each such send widened the window by one for good.
    import asyncio  # noqa: PLC0415

    from bot.delivery import pacing  # noqa: PLC0415

    real_sleep = asyncio.sleep

    async def no_wait(_seconds: float) -> None:
        await real_sleep(0)  # every round at once, so thousands of them take no time

    monkeypatch.setattr(pacing.asyncio, "sleep", no_wait)
    pacer = Pacer(global_rate=2, private_interval=0.0)
    await pacer.acquire(1, private=True)
    await pacer.acquire(2, private=True)  # both places taken by requests still in flight
    third = asyncio.ensure_future(pacer.acquire(3, private=True))
    for _ in range(5000):
        await real_sleep(0)
    assert not third.done(), "no place is free"
    pacer.release(1, private=True)
    pacer.release(2, private=True)  # answered now: they count for one more second
    for _ in range(100):
        await real_sleep(0)
    assert not third.done()
    pacer._answered.clear()  # the second has passed
    await asyncio.wait_for(third, 1)
    assert pacer._in_flight == 1


async def test_pacer_slot_spaces_a_private_chat_from_the_answer() -> None:
    clock = [0.0]
    pacer = Pacer(global_rate=30, private_interval=1.0, monotonic=lambda: clock[0])
    async with pacer.slot(9, private=True):
        clock[0] = 0.4  # the request took 0.4 s
    assert pacer.reserve_chat(9, private=True) == pytest.approx(1.0)


def test_rewritten_story_is_one_story_and_a_story_on_the_same_subject_is_not() -> None:
    from bot.article.cluster import same_story  # noqa: PLC0415

    body = ("Officials in Minsk and Vilnius met on Monday to discuss border trade and the "
            "reopening of the Medininkai crossing, closed since August, according to "
            "statements released by both governments after the talks.")
    first = ("Belarus and Lithuania discuss reopening Medininkai border crossing", body,
             "https://news.example/a/1")
    rewrite = ("Lithuania, Belarus hold talks on reopening Medininkai crossing",
               "Lithuanian and Belarusian officials met in Minsk on Monday and discussed "
               "reopening the Medininkai border crossing, shut since August, the two "
               "governments said in statements after the talks.", "https://other.example/x")
    page_copy = (first[0], f"{first[0]}\n{body}", "https://third.example/p")
    same_subject = ("Lithuania fines Belarusian truck drivers at Medininkai",
                    "Lithuanian customs fined 14 Belarusian truck drivers at Medininkai on "
                    "Friday for carrying undeclared cigarettes, the customs service said.",
                    "https://other.example/y")
    assert same_story(first, rewrite)
    assert same_story(first, page_copy), "an extracted page repeating the headline"
    assert not same_story(first, same_subject)
    own_site = (rewrite[0], rewrite[1], "https://www.news.example/a/2")
    assert not same_story(first, own_site), "one site publishes a story once"

def test_summary_stemmer_missing_its_optional_package_falls_back() -> None:
    # sumy's Polish stemmer needs pystempel, which is not installed: summaries still work.
    text = " ".join(f"Zdanie numer {i} opisuje wydarzenia w Warszawie i okolicach miasta."
                    for i in range(10))
    summary = summarize(text, "Wiadomości z Warszawy", "pl", "hybrid", 3)
    assert len(summary) == 3


def test_a_feeds_own_topic_applies_unless_an_exclusion_says_otherwise() -> None:
    topics = [Topic("belarus", "Belarus", ("Belarus", "Minsk"), ("Minsk Oblast football",)),
              Topic("weather", "Weather", ("frost",))]
    m = TopicMatcher(topics)
    assert m.match("Frost next week", "Cold nights ahead.", given=("belarus",)) == [
        "weather", "belarus"]
    assert m.match("Court sentences official", "Six years.", given=("belarus",)) == ["belarus"]
    assert m.match("Minsk Oblast football results", "", given=("belarus",)) == []
    assert m.match("Court sentences official", "Six years.") == []


def test_latin_look_alikes_inside_cyrillic_words_are_read_as_cyrillic() -> None:
    from bot.language import cyrillic_look_alikes  # noqa: PLC0415

    assert cyrillic_look_alikes("Кiраванне and Minsk i Vilnius") == \
        "Кіраванне and Minsk i Vilnius", "Latin words keep their letters"
    # «Кiраванне краiны» (Latin i) is Belarusian web text; so is «Мiнскi аблвыканкам».
    assert detect_language("Кiраванне краiны") == "be"
    assert detect_language("Мiнскi аблвыканкам") == "be"


def test_the_feed_hint_decides_an_ambiguous_short_text() -> None:
    # Three words that are the same in Russian, Ukrainian and Belarusian spelling.
    for hint in ("ru", "uk", "be"):
        assert detect_language("Погода на завтра", hint) == hint
    # A hint of another script, or a text whose own letters tell, does not decide.
    assert detect_language("Погода на завтра", "en") in ("ru", "uk", "be")
    assert detect_language("Кубок Европы по футболу", "uk") == "ru"
    assert detect_language("Der Präsident sagt nein", "pl") == "de"


def test_a_ukrainian_answer_is_overruled_only_by_a_confident_langdetect(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.language as language  # noqa: PLC0415

    class Model:
        def classify(self, _text: str) -> tuple[str, float]:
            return "uk", 0.8

    text = "Президент провел совещание в столице утром"  # no letter tells ru from uk
    monkeypatch.setattr(language, "_langid", Model)
    monkeypatch.setattr(language, "_langdetect", lambda _t: ("ru", 0.6))
    assert language.detect_language(text) == "uk"
    monkeypatch.setattr(language, "_langdetect", lambda _t: ("ru", 0.99))
    assert language.detect_language(text) == "ru"


def test_a_page_with_its_headline_hashes_like_the_feeds_full_text() -> None:
    # One story in a full-text feed and in a teaser feed (whose page is extracted, headline
    # first) was sent twice by the 3-process soak.
    from bot.article.canonical import content_hash  # noqa: PLC0415

    title = "Minsk and Vilnius sign a border deal"
    body = "The two capitals agreed on new crossings. Trucks will wait less."
    assert content_hash(title, f"{title}\n{body}") == content_hash(title, body)
    assert content_hash(title, body) != content_hash(title, "Another story entirely.")
    assert content_hash("Deal", "Deal deal: the word starts the text") != \
        content_hash("Deal", "deal: the word starts the text"), "only a whole headline goes"


def test_ukrainian_quoting_russian_is_ukrainian_and_kazakh_without_its_letters_is_not_belarusian(
        ) -> None:
    # і with и: Belarusian has no и, so a Ukrainian sentence with a Russian word (ы) in it
    # is not Belarusian (lingua's Ukrainian sentences have several such).
    assert detect_language("Дуже зручні для цих цілей меблі, різні трансформеры.") == "uk"
    # і with ы and no и is Belarusian ...
    assert detect_language("Беларусь і Літва падпісалі дамову аб мяжы.") == "be"
    # A Belarusian sentence quoting a Russian title (и) stays Belarusian (lingua's set).
    assert detect_language("На стэндзе першае выданне «Ученых записок» інстытута.") == "be"
    # ... and і with ы is not Belarusian if it is Kazakh typed without ә ғ қ ң ө ұ ү һ
    # (Kazakh shares і and ы).
    assert detect_language("Адам ізін жусанмен сыпырып, тазалап тастайды.") == "kk"


def test_a_letter_a_language_never_writes_rules_it_out_of_a_short_close_call() -> None:
    # ё is Russian or Belarusian, never Ukrainian: a Ukrainian hint can't make it Ukrainian,
    # and щ (never Belarusian) keeps a Belarusian hint from deciding.
    assert detect_language("Всё в порядке", "uk") in ("ru", "be")
    assert detect_language("Ещё одна новость", "uk") in ("ru", "be")
    assert detect_language("Щука в реке", "be") in ("ru", "uk")


def test_baltic_letters_settle_a_doubt_but_not_a_sure_answer() -> None:
    # Latvian names in an Estonian sentence the model is sure of: still Estonian.
    assert detect_language("Eesti peaminister kohtus Riias Läti kolleegi Krišjānis "
                           "Kariņšiga.") == "et"
    # The letters still decide between the Baltic languages when the model doubts.
    assert detect_language("Ministru prezidents Kariņš tikās ar Lietuvas kolēģi.") == "lv"
