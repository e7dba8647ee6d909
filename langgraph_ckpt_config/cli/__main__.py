"""``python -m langgraph_ckpt_config.cli``: the same as the ``lgckpt`` console script."""

from langgraph_ckpt_config.cli import main

if __name__ == "__main__":
    main()
