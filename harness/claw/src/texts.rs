//! The human- and agent-facing files every archive carries. Our own wording; same purpose as
//! the texts claw.py generates.

use crate::manifest::FORMAT_VERSION;

pub(crate) fn readme() -> String {
    format!(
        "# .claw context archive\n\
\n\
This file is a saved working context of an OpenClaw agent, packed by krill.\n\
\n\
What it is, and what it is not:\n\
\n\
- a checkpoint for picking up a session where it stopped, or for reading it afterwards;\n\
- plain files you can open and read, nothing hidden;\n\
- not a database backup and not a source of truth;\n\
- no promise that an agent resumed from it behaves exactly as before.\n\
\n\
## Layout\n\
\n\
| path | what |\n\
|---|---|\n\
| `manifest.json` | machine-readable facts: format, version, creation time, producer, list of context files |\n\
| `README.md` | this page |\n\
| `SKILL.md` | a note addressed to the agent that resumes from this archive |\n\
| `claw.py` | the reference archive tool, when the producer had it at hand |\n\
| `context/` | the saved context itself: notes, transcripts, memory, work files |\n\
\n\
## Unpacking and packing\n\
\n\
With krill: `krill claw import this.claw <dir>` and `krill claw export <dir> out.claw`.\n\
With the bundled script: `python3 claw.py import this.claw <dir>` and\n\
`python3 claw.py export <dir> out.claw`.\n\
\n\
## Format\n\
\n\
OpenClaw context archive, format version {FORMAT_VERSION}: an ordinary zip file renamed to\n\
`.claw`. Any unzip tool can list and extract it.\n"
    )
}

pub(crate) fn skill() -> String {
    "# Skill: resuming from a .claw context archive\n\
\n\
The directory you are in was unpacked from a `.claw` archive. It holds what an earlier session\n\
left behind so that you can carry on: transcripts, scratch notes, memory files, tool output,\n\
half-finished work. Treat it as a briefing from your past self, not as a database.\n\
\n\
## Getting your bearings\n\
\n\
1. Open `manifest.json`: it lists every saved file and says when the archive was made.\n\
2. Skim `context/` for the latest notes and transcripts; they tell you what was being done and\n\
   what was left open.\n\
3. Pick the work up from there.\n\
\n\
## Saving your context again\n\
\n\
When asked to save or hand over your context, pack this directory into a new archive:\n\
\n\
```\n\
krill claw export <this directory> <name>.claw\n\
```\n\
\n\
(or `python3 claw.py export <this directory> <name>.claw` where krill is not installed). Packing\n\
writes a fresh `manifest.json`, `README.md` and this file, and puts everything under `context/`\n\
into the archive. Then leave the `.claw` file where your operator can collect it, such as a\n\
mounted volume or a shared folder.\n\
\n\
## Keep in mind\n\
\n\
- Never put credentials, tokens or database dumps into `context/`.\n\
- The archive supports continuity; it is not the authoritative record of anything.\n\
- Resuming from the same archive twice need not lead to the same results.\n\
- It is a plain zip file: anyone holding it can read all of it.\n"
        .to_owned()
}
