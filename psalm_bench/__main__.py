from psalm_bench.cli import main

main()
