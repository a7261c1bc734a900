#!/usr/bin/env python3
"""Writes that fail half way (issue 20): ibp-train and ibp-verify run under fault_shim.so,
which makes one call of write, fsync, close or rename fail on one kind of file, at every
call that file's writes make in a short run in turn. Each time:
  - the exit code is non-zero and stderr is exactly one line naming the file and the
    errno text;
  - the file is what it was at the moment of the failure (the previous version, or still
    absent), and no temporary file is left next to it;
  - what is left is usable: model files load (ibp-verify reads them), reports parse, the
    metrics log holds whole JSON lines, and --resume (or, when the run left nothing to
    resume, a fresh run) ends with the byte-identical final model of an unfaulted run.
Prints the matrix file x call -> outcome.
usage: test_write_faults.py FAULT_SHIM IBP_TRAIN IBP_VERIFY MAKE_IDX_PY"""
import csv
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

SHIM, TRAIN, VERIFY, MAKE_IDX = (os.path.abspath(a) for a in sys.argv[1:5])
CALLS = ['write', 'fsync', 'close', 'rename']
# Each call kind fails with an errno a real disk gives for it.
ERRNO = {'write': ('ENOSPC', 'No space left on device'), 'fsync': ('EIO', 'Input/output error'),
         'close': ('EIO', 'Input/output error'), 'rename': ('ENOSPC', 'No space left on device')}
TRAIN_FILES = ['train.cfg', 'init.ibpm', 'last.ibpm', 'best.ibpm', 'train.state',
               'metrics.jsonl']

work = tempfile.mkdtemp()
failures = []
matrix = {}


def run(cmd, fault=None):
    """Runs cmd with the shim; fault = dict of IBP_FAULT_* values. Returns (rc, out, err)."""
    env = dict(os.environ, LD_PRELOAD=SHIM, OMP_NUM_THREADS='1', BLIS_NUM_THREADS='1')
    env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':verify_asan_link_order=0'
    for k, v in (fault or {}).items():
        env['IBP_FAULT_' + k] = str(v)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def counts(cmd, prefix, setup):
    """How many calls of each kind the writes of files named prefix* make in cmd."""
    setup()
    path = os.path.join(work, 'counts')
    rc, out, err = run(cmd, {'FILE': prefix, 'COUNT': path})
    if rc != 0:
        sys.exit(f'unfaulted run failed ({rc}): {err}')
    return {k: int(v) for k, v in (line.split() for line in open(path))}


def same_file(a, b):
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        return fa.read() == fb.read()


def loads_as_model(path):
    rc, out, err = run([VERIFY, '--model', path, '--data', 'fashion-mnist', '--root', data,
                        '--count', '4', '--eps', '0', '--methods', 'ibp', '--no-attack',
                        '--no-progress', '--threads', '1'])
    return rc == 0


def check_common(what, rc, err, target, name, strerror):
    """The checks every faulted run gets; returns a list of problems."""
    problems = []
    lines = err.splitlines()
    if rc == 0:
        problems.append('exit code 0')
    if len(lines) != 1:
        problems.append(f'{len(lines)} lines on stderr: {err!r}')
    elif name not in lines[0] or strerror not in lines[0]:
        problems.append(f'message does not name the file and the error: {lines[0]!r}')
    saved = os.path.join(work, 'saved')
    folder = os.path.dirname(target)
    stray = [f for f in os.listdir(folder) if '.tmp.' in f or f.startswith(os.path.basename(target) + '.')]
    if stray:
        problems.append(f'temporary files left: {stray}')
    if os.path.exists(saved + '.absent'):
        if os.path.exists(target):
            problems.append('a file appeared where there was none')
    elif not os.path.exists(saved):
        problems.append('the fault never fired')
    elif not os.path.exists(target):
        problems.append('the previous file is gone')
    elif not same_file(saved, target):
        problems.append('the previous file was changed')
    return problems


def clear_saved():
    for p in (os.path.join(work, 'saved'), os.path.join(work, 'saved.absent')):
        if os.path.exists(p):
            os.remove(p)


def record(kind, name, call, n, problems, outcome):
    cell = matrix.setdefault((kind, name, call), [])
    cell.append('ok' if not problems else 'FAIL')
    if problems:
        failures.append(f'{kind} {name} {call} #{n}: ' + '; '.join(problems))
    else:
        matrix.setdefault(('outcome', name, call), set()).add(outcome)


# --- ibp-train ---------------------------------------------------------------------------
data = os.path.join(work, 'data')
subprocess.run([sys.executable, MAKE_IDX, data, '256', '16', '12'], check=True)
train_args = ['--data-dir', data, '--model', 'mlp', '--hidden', '16', '--batch', '64',
              '--schedule', '1+1+1', '--milestones', '3', '--eps', '0.1', '--threads', '1']
out = os.path.join(work, 'run')
ref = os.path.join(work, 'ref')


def fresh_out():
    shutil.rmtree(out, ignore_errors=True)


rc, _, err = run([TRAIN] + train_args + ['--out', ref])
if rc != 0:
    sys.exit('reference run failed: ' + err)

for name in TRAIN_FILES:
    n_calls = counts([TRAIN] + train_args + ['--out', out], name, fresh_out)
    for call in CALLS:
        for n in range(1, n_calls.get(call, 0) + 1):
            fresh_out()
            clear_saved()
            errno_name, strerror = ERRNO[call]
            rc, _, err = run([TRAIN] + train_args + ['--out', out],
                             {'FILE': name, 'CALL': call, 'AT': n, 'ERRNO': errno_name,
                              'SAVE': os.path.join(work, 'saved')})
            target = os.path.join(out, name)
            problems = check_common('train', rc, err, target, target, strerror)
            for model in ('init.ibpm', 'last.ibpm', 'best.ibpm'):
                p = os.path.join(out, model)
                if os.path.exists(p) and not loads_as_model(p):
                    problems.append(f'{model} does not load')
            metrics = os.path.join(out, 'metrics.jsonl')
            if os.path.exists(metrics):
                try:
                    with open(metrics) as f:
                        text = f.read()
                    if text and not text.endswith('\n'):
                        raise ValueError('last line cut')
                    for line in text.splitlines():
                        json.loads(line)
                except ValueError as e:
                    problems.append(f'metrics.jsonl: {e}')
            # What was left resumes (or, with no train.cfg, starts again) to the same model.
            has_cfg = os.path.exists(os.path.join(out, 'train.cfg'))
            if not has_cfg:
                outcome = 'no train.cfg: fresh run again'
            elif os.path.exists(os.path.join(out, 'train.state')):
                outcome = 'resumed'
            else:
                outcome = 'resumed afresh'
            rc2, _, err2 = run([TRAIN] + train_args + ['--out', out] +
                               (['--resume'] if has_cfg else []))
            if rc2 != 0:
                problems.append(f'the run after it failed ({rc2}): {err2.strip()}')
            elif not same_file(os.path.join(out, 'last.ibpm'), os.path.join(ref, 'last.ibpm')):
                problems.append('the continued run ends with another model')
            elif outcome == 'resumed afresh' and 'starting it afresh' not in err2:
                problems.append(f'--resume did not say it started afresh: {err2.strip()}')
            record('train', name, call, n, problems, outcome)

# --- ibp-verify --------------------------------------------------------------------------
model = os.path.join(ref, 'last.ibpm')
reports = os.path.join(work, 'reports')
adv = os.path.join(reports, 'adv')


def verify_cmd(eps, folder):
    return [VERIFY, '--model', model, '--data', 'fashion-mnist', '--root', data, '--count', '3',
            '--eps', eps, '--methods', 'ibp', '--no-progress', '--threads', '1',
            '--json', os.path.join(folder, 'r.json'), '--csv', os.path.join(folder, 'r.csv'),
            '--save-adv', os.path.join(folder, 'adv')]


verify_args = verify_cmd('0.3', reports)
previous = os.path.join(work, 'previous')
os.makedirs(previous)
rc, _, err = run(verify_cmd('0.25', previous))
if rc != 0:
    sys.exit('previous verify run failed: ' + err)
pngs = sorted(os.listdir(os.path.join(previous, 'adv')))
if not pngs:
    sys.exit('the attack found no counterexample to save')
png_prefix = pngs[0].split('_eps')[0] + '_eps'


def prepared_reports():
    """The reports folder holding an earlier run's files (eps 0.25: other contents)."""
    shutil.rmtree(reports, ignore_errors=True)
    shutil.copytree(previous, reports)
    for f in os.listdir(adv):
        os.rename(os.path.join(adv, f), os.path.join(adv, f.replace('eps0.25', 'eps0.3')))


def parse_report(path):
    if path.endswith('.json'):
        with open(path) as f:
            json.load(f)
    elif path.endswith('.csv'):
        with open(path) as f:
            rows = list(csv.reader(f))
        if len(rows) < 2 or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError('ragged CSV')


for name, label in (('r.json', 'report.json'), ('r.csv', 'report.csv'), (png_prefix, 'adv PNG')):
    n_calls = counts(verify_args, name, prepared_reports)
    for call in CALLS:
        for n in range(1, n_calls.get(call, 0) + 1):
            prepared_reports()
            clear_saved()
            errno_name, strerror = ERRNO[call]
            rc, vout, err = run(verify_args, {'FILE': name, 'CALL': call, 'AT': n,
                                              'ERRNO': errno_name,
                                              'SAVE': os.path.join(work, 'saved')})
            line = err.strip()
            target = os.path.join(reports, name)
            if name == png_prefix:
                written = [f for f in os.listdir(adv) if f.startswith(name) and f in
                           {p.replace('eps0.25', 'eps0.3') for p in pngs}]
                hit = [os.path.join(adv, f) for f in written if os.path.join(adv, f) in line]
                target = hit[0] if hit else os.path.join(adv, '(none named)')
            problems = check_common('verify', rc, err, target, target, strerror)
            if vout:
                problems.append('a report was printed on stdout')
            for p in glob.glob(os.path.join(reports, 'r.*')):
                try:
                    parse_report(p)
                except ValueError as e:
                    problems.append(f'{p}: {e}')
            record('verify', label, call, n, problems, 'previous file kept')

print('program  file           call    tries  result')
for (kind, name, call), cells in sorted(matrix.items(), key=lambda kv: str(kv[0])):
    if kind == 'outcome':
        continue
    outcome = ', '.join(sorted(matrix.get(('outcome', name, call), [])))
    print(f'{kind:8} {name:14} {call:7} {len(cells):5}  '
          f'{cells.count("ok")} ok' + (f' ({outcome})' if outcome else ''))
for f in failures:
    print('FAIL:', f)
shutil.rmtree(work, ignore_errors=True)
print(f'{len(failures)} failed')
sys.exit(1 if failures else 0)
