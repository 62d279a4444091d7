from app._entry import main

main()
