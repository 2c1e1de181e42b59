"""End-to-end load harness (tcpserver + mailfront + qmail-dkim + queue double + NSD).
Run: python -m tests.load.run --messages 10000 --clients 20   (see docs/LOAD.md)"""
