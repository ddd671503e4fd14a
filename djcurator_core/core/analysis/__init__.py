"""Audio analysis: BPM, key and energy estimated from decoded samples (numpy in, numbers out).

Pure signal work, so the estimators are tested on rendered clips without files or a server."""
