from langgraph_ckpt_config.cli import main

main()
