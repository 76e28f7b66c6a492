from wasm_bisect.cli import main

main()
