"""A OneDep process of a site's fleet, for the stage-safety tests: it writes messages and logs each acknowledged one.

    python fleet_writer.py CONFIG_JSON ACK_FILE COUNT DELAY DEPOSITION...

It opens one messaging service (as a long-running web or workflow process
does), then writes COUNT messages round-robin over the depositions, DELAY
seconds apart. Each message that `set` acknowledged is appended to ACK_FILE
(fsynced) before the next one; a refused call is written to stderr and the
process goes on. It stops early when ACK_FILE's folder holds a file named STOP.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from wwpdb.apps.msgmodule.errors import MessagingError
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory


def main() -> int:
    config, ack_file, count, delay, *deposition_ids = sys.argv[1:]
    service = MessagingFactory.create_messaging_service(config=json.loads(config))
    acknowledged = Path(ack_file)
    stop = acknowledged.with_name("STOP")
    with open(acknowledged, "a", encoding="utf-8") as log:
        for number in range(int(count)):
            if stop.exists():
                break
            deposition_id = deposition_ids[number % len(deposition_ids)]
            content_type = "messages-from-depositor" if number % 5 == 4 else "messages-to-depositor"
            try:
                message_id = service.set(
                    deposition_id, {"message_text": f"{acknowledged.stem} {number} Å"}, content_type
                )
            except MessagingError as exc:
                print(f"refused: {exc}", file=sys.stderr, flush=True)
            else:
                log.write(f"{deposition_id} {message_id}\n")
                log.flush()
                os.fsync(log.fileno())
            time.sleep(float(delay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
