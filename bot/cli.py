"""The `tandem` command: seed the demo store, train the model, run the assistant, evaluate the NLU."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

logger = logging.getLogger("tandem")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="tandem", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    seed = commands.add_parser("seed-demo", help="fill the demo retail store (deterministic)")
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--today", type=date.fromisoformat, default=None,
                      help="date the demo data is anchored to (default: today)")
    seed.add_argument("--customers", type=int, default=1000)
    seed.add_argument("--products", type=int, default=300)
    seed.add_argument("--orders", type=int, default=10000)
    seed.add_argument("--force", action="store_true", help="wipe and reseed a non-empty store")
    seed.set_defaults(handler=_seed_demo)

    train = commands.add_parser("train", help="train the Rasa model if its inputs changed")
    train.add_argument("--force", action="store_true", help="train even if the model is current")
    train.set_defaults(handler=_train)

    run = commands.add_parser("run", help="seed if empty, train if stale, start action + Rasa servers")
    run.set_defaults(handler=_run)

    recommend = commands.add_parser("recommend", help="recommender tools").add_subparsers(
        dest="recommend_command", required=True)
    recommend_train = recommend.add_parser("train", help="train the recommender if the store's orders or "
                                           "its settings changed since the saved model")
    recommend_train.add_argument("--force", action="store_true", help="train even if the model is current")
    recommend_train.set_defaults(handler=_recommend_train)

    nlu = commands.add_parser("nlu", help="NLU tools").add_subparsers(dest="nlu_command", required=True)
    evaluate = nlu.add_parser("evaluate", help="train on a CSV (or take a model) and score a test CSV")
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--train", type=Path, help="training CSV")
    source.add_argument("--model", type=Path, help="a trained model (.tar.gz) or a folder of them")
    evaluate.add_argument("--test", type=Path, required=True, help="test CSV")
    evaluate.add_argument("--text-column", default="text")
    evaluate.add_argument("--label-column", default="intent")
    evaluate.add_argument("--pipeline", choices=("tandem", "diet"), default="tandem")
    evaluate.add_argument("--oos-label", default=None, help="label of out-of-scope examples")
    evaluate.add_argument("--epochs", type=int, default=None, help="override the classifier's epochs")
    evaluate.add_argument("--patience", type=int, default=None,
                          help="override Tandem's early stopping: epochs without a better held-out score")
    evaluate.add_argument("--seed", type=int, default=None, help="override the classifier's random seed")
    evaluate.add_argument("--out", type=Path, default=None, help="write the metrics as JSON here")
    evaluate.set_defaults(handler=_nlu_evaluate)

    feeling = commands.add_parser("emotion", help="emotion tools").add_subparsers(dest="emotion_command",
                                                                                 required=True)
    emotion_eval = feeling.add_parser("evaluate", help="train the emotion head alone and score it")
    emotion_eval.add_argument("--train", type=Path, required=True)
    emotion_eval.add_argument("--test", type=Path, required=True)
    emotion_eval.add_argument("--format", choices=("goemotions-ekman", "csv"), default="csv")
    emotion_eval.add_argument("--epochs", type=int, default=3)
    emotion_eval.add_argument("--out", type=Path, default=None)
    emotion_eval.set_defaults(handler=_emotion_evaluate)

    identity = commands.add_parser("identity", help="customer identity tools").add_subparsers(
        dest="identity_command", required=True)
    token = identity.add_parser("token", help="sign a web chat login token for EMAIL (TANDEM_WEBCHAT_SECRET)")
    token.add_argument("email")
    token.add_argument("--hours", type=float, default=24.0, help="how long the token is valid")
    token.set_defaults(handler=_identity_token)

    analytics = commands.add_parser("analytics", help="process analytics over the tracker store")
    analytics = analytics.add_subparsers(dest="analytics_command", required=True)
    etl = analytics.add_parser("etl", help="load new tracker events into the analytics tables")
    etl.add_argument("--full", action="store_true", help="rebuild the analytics tables from every event")
    etl.add_argument("--now", type=datetime.fromisoformat, default=None,
                     help="UTC time that decides which conversations are still open (default: now)")
    etl.set_defaults(handler=_analytics_etl)
    report = analytics.add_parser("report", help="metrics and process mining over a time range")
    report.add_argument("--since", type=date.fromisoformat, default=None, help="first day (UTC), included")
    report.add_argument("--until", type=date.fromisoformat, default=None, help="last day (UTC), included")
    report.add_argument("--channel", default=None, help="one input channel, e.g. rest or socketio")
    report.add_argument("--format", choices=("json", "markdown", "html"), default="markdown")
    report.add_argument("--out", type=Path, default=None, help="write the report here instead of printing it")
    report.set_defaults(handler=_analytics_report)

    simulate = commands.add_parser("simulate", help="drive the running Rasa server with scripted journeys")
    simulate.add_argument("--conversations", type=int, default=200)
    simulate.add_argument("--url", default=None, help="the Rasa server (default: the configured address)")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--workers", type=int, default=4, help="conversations in parallel")
    simulate.add_argument("--out", type=Path, default=None, help="write the ground truth as JSON here")
    simulate.set_defaults(handler=_simulate)

    console = commands.add_parser("console", help="serve the web console: handoff at /console, analytics "
                                                  "at /analytics; or manage its agents")
    console.set_defaults(handler=_console)
    console_commands = console.add_subparsers(dest="console_command")
    add_agent = console_commands.add_parser("add-agent", help="create an agent's console account")
    add_agent.add_argument("username")
    add_agent.add_argument("--name", required=True, help="the name customers and colleagues see")
    add_agent.add_argument("--role", choices=("agent", "lead"), default="agent")
    add_agent.add_argument("--password-stdin", action="store_true",
                           help="read the password from standard input instead of asking for it")
    add_agent.set_defaults(handler=_add_agent)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return args.handler(args, Settings.from_env())


def _seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.store.db import create_schema, make_engine
    from bot.store.seed import seed_demo

    engine = make_engine(settings.db_url)
    create_schema(engine)
    summary = seed_demo(engine, seed=args.seed, today=args.today, customers=args.customers,
                        products=args.products, orders=args.orders, force=args.force)
    print(summary)
    return 0


def _nlu_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.nlu import evaluation

    read = partial(evaluation.read_csv, text_column=args.text_column, label_column=args.label_column)
    result = evaluation.evaluate(
        read(args.test), train_examples=read(args.train) if args.train else None,
        model=evaluation.latest_model(args.model) if args.model else None,
        pipeline_name=args.pipeline, oos_label=args.oos_label, epochs=args.epochs,
        patience=args.patience, seed=args.seed)
    _report(result, args.out)
    return 0


def _emotion_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.nlu import emotion_eval

    result = emotion_eval.evaluate(emotion_eval.read(args.train, args.format),
                                   emotion_eval.read(args.test, args.format), epochs=args.epochs)
    _report(result, args.out)
    return 0


def _identity_token(args: argparse.Namespace, settings: Settings) -> int:
    from bot.store.identities import issue_login_token

    if not settings.webchat_secret:
        print("tandem: set TANDEM_WEBCHAT_SECRET to sign web chat login tokens", file=sys.stderr)
        return 2
    try:
        print(issue_login_token(args.email, settings.webchat_secret, now=datetime.utcnow(),
                                ttl=timedelta(hours=args.hours)))
    except ValueError as error:
        print(f"tandem: {error}", file=sys.stderr)
        return 2
    return 0


def _report(result: dict, out: Path | None) -> None:
    """Print a result as JSON, and write it to `out` when given."""
    text = json.dumps(result, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)


def _analytics_etl(args: argparse.Namespace, settings: Settings) -> int:
    from bot.analytics.etl import refresh

    result = refresh(settings, now=args.now, full=args.full)
    print(json.dumps({**vars(result), "events_per_second": round(result.events_per_second)}))
    return 0


def _analytics_report(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from bot.analytics import report
    from bot.analytics.scope import Scope
    from bot.store.db import make_engine

    try:
        built = report.build(make_engine(settings.db_url), Scope(args.since, args.until, args.channel))
    except (OperationalError, ProgrammingError):
        print("No analytics tables yet: run `tandem analytics etl` first.", file=sys.stderr)
        return 1
    text = report.render(built, args.format)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        print(text)
    return 0


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.analytics import simulate
    from bot.store.db import make_engine

    rasa = simulate.Rasa(args.url or f"http://{settings.host}:{settings.rasa_port}")
    plan = simulate.simulate(rasa, args.conversations, store=make_engine(settings.db_url), seed=args.seed,
                             workers=args.workers)
    _report(simulate.ground_truth(plan), args.out)
    return 0


def _console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.console.app import serve

    serve(settings)
    return 0


def _add_agent(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from bot.store import agents
    from bot.store.db import create_schema, make_engine, session_scope

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 2
    engine = make_engine(settings.db_url)
    create_schema(engine)
    try:
        with session_scope(engine) as session:
            agent = agents.create_agent(session, args.username, args.name, password, args.role)
    except ValueError as error:
        print(f"not added: {error}", file=sys.stderr)
        return 2
    print(f"added {agent.role} {agent.username} ({agent.display_name})")
    return 0


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from bot.training import train_if_stale

    print(train_if_stale(settings.root, settings.models_dir, force=args.force))
    return 0


def _recommend_train(args: argparse.Namespace, settings: Settings) -> int:
    from bot.recommend.train import train_if_stale
    from bot.store.db import create_schema, make_engine

    engine = make_engine(settings.db_url)
    create_schema(engine)
    try:
        print(train_if_stale(engine, settings.models_dir, force=args.force))
    except ValueError as error:
        print(f"tandem: {error}", file=sys.stderr)
        return 2
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.launcher import Servers
    from bot.recommend.train import train_if_stale as train_recommender_if_stale
    from bot.store.db import create_schema, make_engine
    from bot.store.seed import seed_demo
    from bot.training import train_if_stale

    engine = make_engine(settings.db_url)
    create_schema(engine)
    logger.info("Retail store: %s", seed_demo(engine))
    first_login = _first_console_account(engine, settings)
    train_recommender_if_stale(engine, settings.models_dir)
    servers = Servers(settings, train_if_stale(settings.root, settings.models_dir))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        servers.start(names=("actions", "rasa", "console"))
        _print_endpoints(settings, first_login)
        return servers.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        print("Stopping Tandem...", flush=True)
        servers.stop()


def _first_console_account(engine: Engine, settings: Settings) -> str:
    """Create the lead account `admin` when nobody can log in yet; where its password is written."""
    from bot.store import agents
    from bot.store.db import session_scope

    path = settings.var_dir / "console-admin-password"
    with session_scope(engine) as session:
        password = agents.first_account(session)
    if password is not None:
        path.write_text(password + "\n")
        path.chmod(0o600)
    return f"user admin, password in {path}" if path.exists() else "tandem console add-agent NAME --name ..."


def _print_endpoints(settings: Settings, first_login: str) -> None:
    base = f"http://{settings.host}:{settings.rasa_port}"
    console = f"http://{settings.host}:{settings.console_port}"
    print(
        "\nTandem is running (Ctrl-C stops everything):\n"
        f"  Rasa server     {base}  (REST: POST {base}/webhooks/rest/webhook, socket.io: {base}/socket.io)\n"
        f"  action server   http://127.0.0.1:{settings.action_port}/webhook\n"
        f"  agents' console {console}/console  ({first_login})\n"
        f"  analytics       {console}/analytics  (refreshed every minute)\n"
        f"  shop demo       {console}/shop  (the web chat widget)\n"
        f"  retail store    {settings.db_url}\n"
        f"  tracker store   sqlite:///{settings.tracker_db}\n"
        f"  try it:  curl -s {base}/webhooks/rest/webhook -H 'Content-Type: application/json' "
        "-d '{\"sender\": \"me\", \"message\": \"where is my order 10001\"}'\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
