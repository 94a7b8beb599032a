"""The reference PSALM model (architecture, training, inference).

It writes predictions in the same files any model would and is scored by
``psalm_bench.evaluators``; it never imports an evaluator.

Modules: ``config`` (PSALMConfig, get_config), ``tokenizer``, ``preprocess``,
``samples`` (TrainSample, Batch, collate), ``psalm`` (PSALM), ``vision``,
``pixel_decoder``, ``predictor``, ``criterion``, ``inference`` (post-processing),
``checkpoint`` (save_model, load_model, load_official), ``train``, ``toy``; the
world-facing parts: ``data`` (training samples from the world), ``recipe``
(train_on_world), ``predict`` (prediction files), ``bundle`` (ship a run).
Submodules are imported explicitly, so importing this package stays cheap.
"""

import os

# OpenMP threads that spin while waiting make torch collapse on a busy 2-core
# machine (a 1 s training step took 8-15 s beside one other busy process);
# passive waiting costs nothing measurable when the machine is quiet. It only
# takes effect if torch is not imported yet, and a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
