from perfpulse.cli import main

main()
