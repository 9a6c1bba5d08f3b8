"""The HuggingFace callback inside a real `Trainer` on a tiny GPT-2 built from a config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from producer.integrations.huggingface import SpectralEdgeCallback  # noqa: E402
from producer.sketch import CountSketch  # noqa: E402
from producer.wire import Kind  # noqa: E402

TIMINGS = {"SPECTRAL_EDGE_LINGER_MS": "0", "SPECTRAL_EDGE_RESEND_AFTER": "0.2"}


class Tokens(torch.utils.data.Dataset):
    def __init__(self, count: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 64, (count, 16), generator=generator)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[index], "labels": self.ids[index]}


def test_trainer_run_is_watched(router: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setitem(os.environ, "HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2)
    model = transformers.GPT2LMHeadModel(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), max_steps=6, per_device_train_batch_size=4, logging_steps=2,
        eval_strategy="steps", eval_steps=3, save_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=True,
    )  # fmt: skip
    callback = SpectralEdgeCallback(every=2, dim=32, seed=4, endpoint=router.endpoint,
                                    run_id="run-hf", env=TIMINGS)  # fmt: skip
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Tokens(32, 1),
                                   eval_dataset=Tokens(8, 2), callbacks=[callback])  # fmt: skip
    trainer.train()
    messages = router.received()
    kinds = [m.kind for m in messages]
    assert kinds[0] is Kind.START and kinds[-1] is Kind.FINISH
    assert messages[-1].body["status"] == "finished"
    sketches = [m for m in messages if m.kind is Kind.SKETCH]
    assert [(m.step, m.index) for m in sketches] == [(0, 0), (2, 1), (4, 2), (6, 3)]
    final = CountSketch(32, seed=4).sketch_parameters(model.named_parameters())
    np.testing.assert_allclose(sketches[-1].payload, final, rtol=1e-12)
    names = set().union(*(m.body["values"] for m in messages if m.kind is Kind.SCALARS))
    assert {"train_loss", "lr", "val_loss"} <= names
