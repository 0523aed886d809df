"""The numbers `tandem nlu evaluate` reports, computed from known predictions."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.evaluation import latest_model, metrics, pipeline, predicted_label, read_csv


def test_accuracy_macro_f1_and_latency_percentiles() -> None:
    result = metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"], [1.0, 2.0, 3.0, 100.0], 50.0, None)
    assert result["accuracy"] == 0.75
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert result["latency_ms_p50"] == 2.5 and result["latency_ms_p99"] == 100.0
    assert result["throughput_per_s"] == 50.0 and "oos_recall" not in result


def parsed(intent: str, *ranking: str) -> dict:
    return {"intent": {"name": intent}, "intent_ranking": [{"name": n} for n in (intent, *ranking)]}


def test_a_fallback_predicts_the_oos_label_or_else_the_best_real_intent() -> None:
    assert predicted_label(parsed("nlu_fallback", "a", "b"), "oos") == "oos"
    assert predicted_label(parsed("nlu_fallback", "a", "b"), None) == "a"
    assert predicted_label(parsed("b", "a"), "oos") == "b"
    assert predicted_label({"intent": {"name": None}}, None) == "nlu_fallback"


def test_out_of_scope_scores() -> None:
    truth = ["oos", "oos", "oos", "a", "b"]
    predicted = ["oos", "oos", "a", "a", "oos"]
    result = metrics(truth, predicted, [1.0] * 5, 1.0, "oos")
    assert result["oos_recall"] == pytest.approx(2 / 3)
    assert result["in_scope_accuracy"] == 0.5
    assert result["accuracy"] == 0.6


def test_csv_columns_are_checked(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text('text,category\n"hello, there",greet\n,empty\nbye,goodbye\n')
    assert read_csv(data, "text", "category") == [("hello, there", "greet"), ("bye", "goodbye")]
    with pytest.raises(ValueError, match="no column \\['intent'\\]"):
        read_csv(data, "text", "intent")


def test_model_lookup_and_pipelines(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no trained model"):
        latest_model(tmp_path)
    (tmp_path / "a.tar.gz").write_bytes(b"")
    assert latest_model(tmp_path) == tmp_path / "a.tar.gz"
    assert any(c["name"] == "DIETClassifier" for c in pipeline("diet"))
    assert any(c["name"].endswith("TandemTransformerNLU") for c in pipeline("tandem"))
    assert [c["epochs"] for c in pipeline("tandem", epochs=3) if "epochs" in c] == [3]
    assert [c["epochs"] for c in pipeline("diet", epochs=5) if "epochs" in c] == [5]
    assert [c["epochs"] for c in pipeline("diet") if "epochs" in c] == [40]
    assert [c["patience"] for c in pipeline("tandem", patience=7) if "patience" in c] == [7]
    assert not any("patience" in c for c in pipeline("diet", patience=7))
    for name in ("tandem", "diet"):
        assert [c["random_seed"] for c in pipeline(name) if "random_seed" in c] == [7]
        assert [c["random_seed"] for c in pipeline(name, seed=8) if "random_seed" in c] == [8]
    with pytest.raises(ValueError, match="tandem"):
        pipeline("bert")


def test_the_temperature_softens_overconfidence_but_never_sharpens() -> None:
    import torch

    from bot.nlu.model import fit_temperature

    targets = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    wrong_half = torch.tensor([[9.0, 0.0], [0.0, 9.0], [0.0, 9.0], [9.0, 0.0]] * 2)  # sure, and half wrong
    assert fit_temperature(wrong_half, targets) > 2.0
    timid = torch.tensor([[0.3, 0.0], [0.0, 0.3]] * 4)  # always right, barely sure: NLL wants T < 1
    assert fit_temperature(timid, targets) == pytest.approx(1.0, abs=1e-3)
