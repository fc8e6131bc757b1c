"""Adapters that plug chil rewards into other trainers (``trl``: TRL's GRPOTrainer ``reward_funcs``).

Each adapter module imports its trainer's library only when used.
"""
