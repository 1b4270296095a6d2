// Differential oracle: evaluates `ecr-lab simulate --batch` cases with @cloud-copilot/iam-simulate.
//
// Reads contract cases as JSONL on stdin and writes one `{"decision": ...}` line per case on
// stdout, in order. The package is AGPL-3.0: it runs here as a separate test process only.
// Usage: node tests/oracle/run_oracle.mjs < cases.jsonl > decisions.jsonl
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const OUTCOMES = {
  Allowed: 'allowed',
  ExplicitlyDenied: 'explicit_deny',
  ImplicitlyDenied: 'implicit_deny'
}

// The keys AWS derives from the caller (global condition keys page:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html);
// the oracle derives none of them. The engine derives the same set: aws:userid only where the
// ARN alone gives it (the root user), since a user's or role's unique id is not in its ARN.
function derivedKeys(principal) {
  const [, , service, , account, rest = ''] = principal.split(':')
  const keys = { 'aws:PrincipalAccount': account, 'aws:PrincipalIsAWSService': 'false' }
  const parts = rest.split('/')
  if (service === 'sts' && parts[0] === 'assumed-role') {
    // A session ARN drops the role path; aws:PrincipalArn is the role's ARN.
    keys['aws:PrincipalArn'] = `arn:aws:iam::${account}:role/${parts[1]}`
    keys['aws:PrincipalType'] = 'AssumedRole'
  } else if (service === 'iam' && parts[0] === 'user') {
    keys['aws:PrincipalArn'] = principal
    keys['aws:PrincipalType'] = 'User'
    keys['aws:username'] = parts[parts.length - 1]
  } else if (service === 'iam' && rest === 'root') {
    keys['aws:PrincipalArn'] = principal
    keys['aws:PrincipalType'] = 'Account'
    keys['aws:userid'] = account
  } else {
    keys['aws:PrincipalArn'] = principal
  }
  return keys
}

// A contract DOC is a JSON object or a JSON string of one.
function document(doc) {
  return typeof doc === 'string' ? JSON.parse(doc) : doc
}

// AWS's RCPFullAWSAccess, which the oracle applies at every level itself (its README) and
// refuses as input (a customer RCP may only deny).
const RCP_FULL_AWS_ACCESS = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }]
})

// The contract's `scps`/`rcps`: a list of levels, each a list of DOCs.
function levels(given, kind) {
  return (given ?? []).map((docs, level) => ({
    orgIdentifier: `${kind}-level-${level}`,
    policies: docs
      .map(document)
      .filter((doc) => kind !== 'rcp' || JSON.stringify(doc) !== RCP_FULL_AWS_ACCESS)
      .map((policy, i) => ({ name: `${kind}-${level}-${i}`, policy }))
  }))
}

function simulation(testCase) {
  const principalAccount = testCase.principal.split(':')[4]
  const resourceAccount =
    testCase.resource === '*' ? principalAccount : testCase.resource.split(':')[4]
  const contextVariables = { ...derivedKeys(testCase.principal) }
  const lowerNames = new Map(Object.keys(contextVariables).map((k) => [k.toLowerCase(), k]))
  for (const [key, value] of Object.entries(testCase.context ?? {})) {
    // Supplied keys override derived ones, matched case-insensitively as AWS does.
    const derivedName = lowerNames.get(key.toLowerCase())
    if (derivedName !== undefined) delete contextVariables[derivedName]
    contextVariables[key] = value
  }
  const sim = {
    request: {
      principal: testCase.principal,
      action: testCase.action,
      resource: { resource: testCase.resource, accountId: resourceAccount },
      contextVariables
    },
    identityPolicies: (testCase.identity_policies ?? []).map((doc, i) => ({
      name: `identity-${i}`,
      policy: document(doc)
    })),
    // One entry per level, from the root down: every level must allow (SCP/RCP evaluation).
    serviceControlPolicies: levels(testCase.scps, 'scp'),
    resourceControlPolicies: levels(testCase.rcps, 'rcp')
  }
  if (testCase.endpoint_policy != null) {
    sim.vpcEndpointPolicies = [{ name: 'endpoint', policy: document(testCase.endpoint_policy) }]
  }
  if (testCase.resource_policy != null) sim.resourcePolicy = document(testCase.resource_policy)
  if (testCase.permissions_boundary != null) {
    sim.permissionBoundaryPolicies = [
      { name: 'boundary', policy: document(testCase.permissions_boundary) }
    ]
  }
  if (testCase.session_policy != null) sim.sessionPolicy = document(testCase.session_policy)
  return sim
}

async function decide(line) {
  try {
    const result = await runSimulation(simulation(JSON.parse(line)), { simulationMode: 'Strict' })
    if (result.resultType === 'single') return { decision: OUTCOMES[result.overallResult] }
    if (result.resultType === 'error') return { decision: 'error', error: JSON.stringify(result.errors) }
    return { decision: 'error', error: `unexpected result type ${result.resultType}` }
  } catch (error) {
    return { decision: 'error', error: String(error) }
  }
}

const output = []
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === '') continue
  output.push(JSON.stringify(await decide(line)))
  // Written in blocks: one write per line would dominate the run time.
  if (output.length >= 512) process.stdout.write(output.splice(0).join('\n') + '\n')
}
if (output.length > 0) process.stdout.write(output.join('\n') + '\n')
