"""Language-model training on real text: the corpus and its tokenizer, a nanoGPT-style decoder, and
its AdamW trainer with warmup and cosine decay (the paper's recipe at CPU sizes)."""

from training.lm.corpus import Corpus, CorpusError
from training.lm.gpt import GPT, GPTConfig
from training.lm.trainer import LMConfig, LMTrainer, learning_rate

__all__ = ["GPT", "Corpus", "CorpusError", "GPTConfig", "LMConfig", "LMTrainer", "learning_rate"]
