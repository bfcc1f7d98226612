// The network: the VPC's address range, and who may reach the load balancer's port 443.
// Two blocks, read at different points of the parse (their problems keep the stack file's order).
import { parseCidr } from "../cidr";
import { isDocumentationCidr } from "../placeholders";
import { defineBlock } from "./block";
import { NAMESPACE } from "./reader";

const vpcDefaults = {
  /** @default "10.0.0.0/16" */
  vpcCidr: "10.0.0.0/16",
};

export const vpcCidrBlock = defineBlock({
  keys: ["vpcCidr"],
  defaults: vpcDefaults,
  read(r): {
    /** The VPC's IPv4 range, /16 to /24 (it holds two public and two private subnets). @default "10.0.0.0/16" */
    vpcCidr: string;
  } {
    const raw = r.raw("vpcCidr");
    if (raw === undefined) return { vpcCidr: vpcDefaults.vpcCidr };
    const parsed = parseCidr(raw.trim());
    if (typeof parsed === "string") {
      r.report("vpcCidr", parsed);
      return { vpcCidr: vpcDefaults.vpcCidr };
    }
    if (parsed.prefixLength < 16 || parsed.prefixLength > 24) {
      r.report("vpcCidr", `prefix length must be between /16 and /24 to hold the stack's subnets, got /${parsed.prefixLength}`);
      return { vpcCidr: vpcDefaults.vpcCidr };
    }
    return { vpcCidr: parsed.text };
  },
});

export const allowedPeersBlock = defineBlock({
  keys: ["allowedPeers"],
  read(r): {
    /**
     * IPv4 CIDRs that may reach port 443 (1 to 50: the load balancer's security group rules).
     * A list, or comma-separated text as typed on the command line. @default none (required)
     */
    allowedPeers: string[];
  } {
    const key = "allowedPeers";
    const raw = r.raw(key);
    if (raw === undefined) {
      r.report(key, "required: list the IPv4 CIDRs that may reach port 443, e.g. [\"203.0.113.0/24\"]");
      return { allowedPeers: [] };
    }
    let list: unknown;
    try {
      list = JSON.parse(raw);
    } catch {
      // `pulumi config set stowrs-to-s3:allowedPeers 203.0.113.0/24,198.51.100.7/32` is a fair thing to type.
      list = raw.split(",").map((s) => s.trim());
    }
    if (typeof list === "string") list = [list];
    if (!Array.isArray(list)) {
      r.report(key, `expected a list of IPv4 CIDRs, got ${raw}`);
      return { allowedPeers: [] };
    }
    if (list.length === 0) r.report(key, "must list at least one CIDR; nobody could reach the service");
    if (list.length > 50) r.report(key, `at most 50 CIDRs fit in the load balancer's security group, got ${list.length}`);
    const peers: string[] = [];
    for (const item of list) {
      if (typeof item !== "string") {
        r.report(key, `${JSON.stringify(item)} is not a CIDR string`);
        continue;
      }
      const parsed = parseCidr(item.trim());
      if (typeof parsed === "string") {
        r.report(key, parsed);
        continue;
      }
      if (peers.includes(parsed.text)) {
        r.report(key, `${parsed.text} is listed twice`);
        continue;
      }
      peers.push(parsed.text);
    }
    return { allowedPeers: peers };
  },
  placeholders({ allowedPeers }) {
    const docs = allowedPeers.filter(isDocumentationCidr);
    if (docs.length === 0) return [];
    return [
      {
        key: `${NAMESPACE}:allowedPeers`,
        message: `${docs.join(", ")} ${docs.length === 1 ? "is a documentation range" : "are documentation ranges"} (RFC 5737): nobody real can connect from there; list the senders' addresses`,
      },
    ];
  },
});

export interface NetworkConfig {
  /**
   * Interface endpoints for ECR (api, dkr) and CloudWatch Logs in the private subnets, so image
   * pulls and logs do not cross the NAT gateways (about 7.3 USD a month per endpoint and zone,
   * plus 0.01 USD/GB, against NAT's 0.045 USD/GB). @default true
   */
  interfaceEndpoints: boolean;
}

const networkDefaults = { network: { interfaceEndpoints: true } };

export const networkBlock = defineBlock({
  keys: ["network"],
  defaults: networkDefaults,
  read(r): { network: NetworkConfig } {
    const key = "network";
    const fields = r.object(key, r.raw(key), `{ interfaceEndpoints: true }`) ?? {};
    r.unknownFields(key, fields, ["interfaceEndpoints"]);
    let interfaceEndpoints = networkDefaults.network.interfaceEndpoints;
    const v = fields.interfaceEndpoints;
    if (v === true || v === "true") interfaceEndpoints = true;
    else if (v === false || v === "false") interfaceEndpoints = false;
    else if (v !== undefined) r.report(key, `interfaceEndpoints must be true or false, got ${JSON.stringify(v)}`);
    return { network: { interfaceEndpoints } };
  },
});

const worldDefaults = {
  /** @default false */
  allowWorldIngress: false,
};

export const allowWorldIngressBlock = defineBlock({
  keys: ["allowWorldIngress"],
  defaults: worldDefaults,
  read(r): {
    /**
     * Says that allowedPeers with 0.0.0.0/0 and certificate.authMode anonymous (anyone on the
     * internet may store) is meant; without it plan and preview warn and `pulumi up` refuses.
     * @default false
     */
    allowWorldIngress: boolean;
  } {
    return { allowWorldIngress: r.flag("allowWorldIngress", r.raw("allowWorldIngress"), worldDefaults.allowWorldIngress) };
  },
});
