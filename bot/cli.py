"""The `tandem` command: seed the demo store, train the model, run the assistant, evaluate the NLU."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from datetime import date
from functools import partial
from pathlib import Path

from bot.settings import Settings

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
        pipeline_name=args.pipeline, oos_label=args.oos_label, epochs=args.epochs)
    _report(result, args.out)
    return 0


def _emotion_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.nlu import emotion_eval

    result = emotion_eval.evaluate(emotion_eval.read(args.train, args.format),
                                   emotion_eval.read(args.test, args.format), epochs=args.epochs)
    _report(result, args.out)
    return 0


def _report(result: dict, out: Path | None) -> None:
    """Print a result as JSON, and write it to `out` when given."""
    text = json.dumps(result, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from bot.training import train_if_stale

    print(train_if_stale(settings.root, settings.models_dir, force=args.force))
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.launcher import Servers
    from bot.store.db import create_schema, make_engine
    from bot.store.seed import seed_demo
    from bot.training import train_if_stale

    engine = make_engine(settings.db_url)
    create_schema(engine)
    logger.info("Retail store: %s", seed_demo(engine))
    servers = Servers(settings, train_if_stale(settings.root, settings.models_dir))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        servers.start()
        _print_endpoints(settings)
        return servers.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        print("Stopping Tandem...", flush=True)
        servers.stop()


def _print_endpoints(settings: Settings) -> None:
    base = f"http://{settings.host}:{settings.rasa_port}"
    print(
        "\nTandem is running (Ctrl-C stops everything):\n"
        f"  Rasa server     {base}  (REST: POST {base}/webhooks/rest/webhook, socket.io: {base}/socket.io)\n"
        f"  action server   http://127.0.0.1:{settings.action_port}/webhook\n"
        f"  retail store    {settings.db_url}\n"
        f"  tracker store   sqlite:///{settings.tracker_db}\n"
        f"  try it:  curl -s {base}/webhooks/rest/webhook -H 'Content-Type: application/json' "
        "-d '{\"sender\": \"me\", \"message\": \"where is my order 10001\"}'\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
