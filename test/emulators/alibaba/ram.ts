/**
 * RAM API 2015-05-01 `GetRole` (RPC; RoleName → `{RequestId, Role: {RoleId, RoleName, Arn, Description,
 * AssumeRolePolicyDocument, MaxSessionDuration, CreateDate, UpdateDate}}`; 404 `EntityNotExist.Role`; RAM
 * `ram:GetRole` on `acs:ram:*:<uid>:role/<name>`: RAM GetRole API doc and RAM error list doc-detail/28754) and
 * `CreatePolicy` (RPC; PolicyName, PolicyDocument, Description): the path on which the
 * emulator models RAM policy creation, with the document length limit of 1..6,144 characters (RAM and
 * Resource Management CreatePolicy API docs). Error code pattern of RAM's error list (help doc-detail/28754:
 * `InvalidParameter.<Name>.Length`, "The parameter - "<Name>" beyond the length limit.").
 */
import { ApiError, missingApiParameter } from './errors.js';
import { isoSeconds, parsePolicy } from './identity.js';
import type { Operation, ProductModule } from './server.js';
import { ramDenied } from './server.js';
import type { Iam, Principal } from './identity.js';

/** The longest policy document RAM accepts, in characters. */
export const MAX_POLICY_DOCUMENT_CHARS = 6144;

/** A custom policy an account created. */
export interface CustomPolicy {
  accountId: string;
  name: string;
  document: string;
  description: string;
  createDate: string;
}

export class Ram implements ProductModule {
  readonly product = 'ram' as const;
  readonly policies = new Map<string, CustomPolicy>();

  constructor(private readonly iam: Iam) {}

  denied(caller: Principal, ramAction: string): ApiError {
    return ramDenied(caller, ramAction);
  }

  readonly operations: Operation[] = [
    {
      action: 'GetRole',
      version: '2015-05-01',
      handle: (ctx) => {
        const caller = ctx.requireCaller();
        const name = ctx.params.RoleName;
        if (!name) throw missingApiParameter('RoleName');
        ctx.authorize('ram:GetRole', `acs:ram:*:${caller.accountId}:role/${name}`);
        const role = this.iam.findRole(`acs:ram::${caller.accountId}:role/${name}`);
        if (!role) throw new ApiError(404, 'EntityNotExist.Role', `The role not exists: ${name}.`);
        const created = isoSeconds(ctx.now);
        return {
          RequestId: ctx.requestId,
          Role: {
            RoleId: role.roleId,
            RoleName: role.name,
            Arn: role.arn,
            Description: '',
            MaxSessionDuration: role.maxSessionDuration,
            CreateDate: created,
            UpdateDate: created,
          },
        };
      },
    },
    {
      action: 'CreatePolicy',
      version: '2015-05-01',
      handle: (ctx) => {
        const caller = ctx.requireCaller();
        const name = ctx.params.PolicyName;
        const document = ctx.params.PolicyDocument;
        if (!name) throw missingApiParameter('PolicyName');
        if (!document) throw missingApiParameter('PolicyDocument');
        ctx.authorize('ram:CreatePolicy', `acs:ram:*:${caller.accountId}:policy/${name}`);
        if (!/^[A-Za-z0-9-]{1,128}$/.test(name))
          throw new ApiError(
            400,
            'InvalidParameter.PolicyName.InvalidChars',
            'The parameter - "PolicyName" contains invalid chars.',
          );
        if ([...document].length > MAX_POLICY_DOCUMENT_CHARS)
          throw new ApiError(
            400,
            'InvalidParameter.PolicyDocument.Length',
            'The parameter - "PolicyDocument" beyond the length limit.',
          );
        if (!parsePolicy(document))
          throw new ApiError(400, 'MalformedPolicyDocument', 'The policy document is malformed.');
        const key = `${caller.accountId}/${name.toLowerCase()}`;
        if (this.policies.has(key)) throw new ApiError(409, 'EntityAlreadyExists.Policy', `The policy already exists.`);
        const policy: CustomPolicy = {
          accountId: caller.accountId,
          name,
          document,
          description: ctx.params.Description ?? '',
          createDate: isoSeconds(ctx.now),
        };
        this.policies.set(key, policy);
        return {
          RequestId: ctx.requestId,
          Policy: {
            PolicyName: name,
            PolicyType: 'Custom',
            Description: policy.description,
            DefaultVersion: 'v1',
            CreateDate: policy.createDate,
          },
        };
      },
    },
  ];
}
