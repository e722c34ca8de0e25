#!/bin/bash
# usage: scratch-sweep.sh '<wf json>' '<synpo json>' [folds] [organs]
npx tsx scratch-eval.ts cpu ${3:-0,3} ${4:-liver,right-kidney,left-kidney,spleen} "$1" "$2" 2>/dev/null
