from djcurator_core.cli import main

main()
