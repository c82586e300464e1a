# Sourced by the bench scripts that compare against scikit-learn: makes sure the
# virtualenv $SKVENV holds scikit-learn, NumPy and threadpoolctl (installed once,
# marked by .rarecall-bench). Needs SKVENV set and a `log` function.
if [ ! -f "$SKVENV/.rarecall-bench" ]; then
  log "installing scikit-learn, numpy, threadpoolctl into $SKVENV"
  python3 -m venv "$SKVENV"
  "$SKVENV/bin/pip" install -q --disable-pip-version-check "scikit-learn>=1.6" numpy threadpoolctl
  touch "$SKVENV/.rarecall-bench"
fi
