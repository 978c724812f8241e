from podbrief.cli import main

main()
