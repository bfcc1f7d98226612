// events: a message in an SQS queue for every instance stored (stacks/events.ts), for whatever
// comes next (inference, forwarding). stacks/README.md, "Events".
import { booleanField } from "./alarms";
import { defineBlock } from "./block";

export interface EventSettings {
  /** The DICOM bucket sends its events to EventBridge and the queue exists. @default true */
  enabled: boolean;
  /** How long the queue keeps a message nobody deleted (SQS: 60 s to 14 days). @default 345600 (4 days) */
  retentionSeconds: number;
  /** Receives before a message moves to the dead-letter queue. @default 5 */
  maxReceiveCount: number;
}

const defaults = { events: { enabled: true, retentionSeconds: 345_600, maxReceiveCount: 5 } };

export const eventsBlock = defineBlock({
  keys: ["events"],
  defaults,
  read(r): { events: EventSettings } {
    const key = "events";
    const d = defaults.events;
    const fields = r.object(key, r.raw(key), `{ enabled: true, retentionSeconds: 345600, maxReceiveCount: 5 }`) ?? {};
    r.unknownFields(key, fields, Object.keys(d));
    return {
      events: {
        enabled: booleanField(r, key, fields, "enabled", d.enabled),
        retentionSeconds: r.integer(key, "retentionSeconds", fields.retentionSeconds, d.retentionSeconds, 60, 1_209_600),
        maxReceiveCount: r.integer(key, "maxReceiveCount", fields.maxReceiveCount, d.maxReceiveCount, 1, 1000),
      },
    };
  },
});
