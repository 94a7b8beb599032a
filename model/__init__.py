"""The reference PSALM model (architecture, training, inference).

It writes predictions in the same files any model would and is scored by
``psalm_bench.evaluators``; it never imports an evaluator.

Modules: ``config`` (PSALMConfig, get_config), ``tokenizer``, ``preprocess``,
``samples`` (TrainSample, Batch, collate), ``psalm`` (PSALM), ``vision``,
``pixel_decoder``, ``predictor``, ``criterion``, ``inference`` (post-processing),
``checkpoint`` (save_model, load_model, load_official), ``train``, ``speed``, ``toy``.
Submodules are imported explicitly, so importing this package stays cheap.
"""
