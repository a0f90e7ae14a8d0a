from idqueue.cli import main

main()
