"""Runs a command on a fresh pseudo-terminal (stdin, stdout and stderr all the terminal), as a
person at a terminal would: the window is COLS wide, and when the output shows PROMPT the ANSWER
line is typed. Prints one JSON document: the exit status and everything the terminal showed.
With ANSWERS (a list) instead of ANSWER, each time PROMPT shows again the next one is typed.
Usage: pty-run.py SPEC_JSON, with SPEC = {argv, env, cwd, cols, prompt?, answer?, answers?, timeout}."""
import fcntl, json, os, pty, select, struct, sys, termios, time

spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 40, spec['cols'], 0, 0))
    os.chdir(spec['cwd'])
    os.execve(spec['argv'][0], spec['argv'], spec['env'])

out = b''
answers = spec.get('answers', [spec.get('answer', '')])
given = 0
deadline = time.time() + spec['timeout']
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if spec.get('prompt') and given < len(answers) and out.count(spec['prompt'].encode()) > given:
        os.write(fd, (answers[given] + '\n').encode())
        given += 1
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
print(json.dumps({'code': code, 'output': out.decode('utf-8', 'replace'), 'answered': given > 0, 'answers': given}))
