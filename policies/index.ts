import { PolicyPack } from "@pulumi/policy";
import { resourcePolicies, stackPolicies } from "./rules";

// The pack's entry point: constructing a PolicyPack starts its gRPC server, so nothing else imports this file.
new PolicyPack("bloom-platform", { policies: [...resourcePolicies, ...stackPolicies] });
