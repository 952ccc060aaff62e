"""Run configs: `python train.py --config configs/<name>.py[:arg]`. A package so that configs
share configs/common.py, and so that the name resolves here before any tests/configs folder."""
