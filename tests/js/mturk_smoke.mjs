// Smoke test: the AWS SDK for JavaScript v3 MTurk client, unchanged, against an openturk server.
//
// Usage: node mturk_smoke.mjs [ENDPOINT_URL]   (or OPENTURK_ENDPOINT=...; default http://127.0.0.1:8000)
// Optional: OPENTURK_ACCESS_KEY_ID names the requester (open auth mode); with OPENTURK_SECRET_ACCESS_KEY
// the pair from `openturk requesters create` (--auth sigv4, where the signature is verified).
//
// Prints one JSON line {"ok": bool, "endpoint", "requester", "checks": <count>, "result", "failures": [...]}
// on stdout and exits 0 only when every check passed.

import {
  AssociateQualificationWithWorkerCommand,
  CreateHITTypeCommand,
  CreateQualificationTypeCommand,
  DisassociateQualificationFromWorkerCommand,
  GetQualificationScoreCommand,
  ListWorkersWithQualificationTypeCommand,
  CreateHITWithHITTypeCommand,
  GetAccountBalanceCommand,
  GetHITCommand,
  ListHITsCommand,
  MTurkClient,
} from "@aws-sdk/client-mturk";

const HTML_QUESTION =
  '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">' +
  "<HTMLContent><![CDATA[<!DOCTYPE html><html><body><form><input name='answer'></form></body></html>]]>" +
  "</HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>";
const HIT_COUNT = 3;

const endpoint = process.argv[2] || process.env.OPENTURK_ENDPOINT || "http://127.0.0.1:8000";
const accessKeyId =
  process.env.OPENTURK_ACCESS_KEY_ID || `AKIDJS${Math.random().toString(16).slice(2, 14).toUpperCase()}`;

const checks = [];
const failures = [];

function check(name, condition, detail) {
  checks.push(name);
  if (!condition) failures.push({ check: name, detail: detail === undefined ? null : detail });
}

async function run(client) {
  const balance = await client.send(new GetAccountBalanceCommand({}));
  check("GetAccountBalance.AvailableBalance is a decimal string",
    typeof balance.AvailableBalance === "string" && /^\d+(\.\d+)?$/.test(balance.AvailableBalance),
    balance.AvailableBalance);

  const hitType = await client.send(new CreateHITTypeCommand({
    Title: "Label an image (js smoke)",
    Description: "Say what is in the picture",
    Reward: "0.10",
    AssignmentDurationInSeconds: 600,
    AutoApprovalDelayInSeconds: 86400,
    Keywords: "image, label",
  }));
  check("CreateHITType returns HITTypeId", typeof hitType.HITTypeId === "string" && hitType.HITTypeId.length > 0,
    hitType);

  const hitIds = [];
  for (let i = 0; i < HIT_COUNT; i += 1) {
    const created = await client.send(new CreateHITWithHITTypeCommand({
      HITTypeId: hitType.HITTypeId,
      Question: HTML_QUESTION,
      LifetimeInSeconds: 3600,
      MaxAssignments: 1,
      RequesterAnnotation: `js-smoke-${i}`,
    }));
    const hit = created.HIT || {};
    check(`CreateHITWithHITType #${i} returns HIT with HITId`, typeof hit.HITId === "string", created);
    check(`CreateHITWithHITType #${i} keeps HITTypeId`, hit.HITTypeId === hitType.HITTypeId, hit.HITTypeId);
    hitIds.push(hit.HITId);
  }

  const { HIT: got } = await client.send(new GetHITCommand({ HITId: hitIds[0] }));
  check("GetHIT.HITId matches", got && got.HITId === hitIds[0], got && got.HITId);
  check("GetHIT.HITStatus is Assignable", got && got.HITStatus === "Assignable", got && got.HITStatus);
  check("GetHIT.QualificationRequirements is an array", got && Array.isArray(got.QualificationRequirements),
    got && got.QualificationRequirements);
  check("GetHIT.Expiration is a Date",
    got && got.Expiration instanceof Date && !Number.isNaN(got.Expiration.getTime()), got && String(got.Expiration));
  check("GetHIT.CreationTime is a Date", got && got.CreationTime instanceof Date, got && String(got.CreationTime));
  check("GetHIT.Reward", got && got.Reward === "0.10", got && got.Reward);
  check("GetHIT.MaxAssignments", got && got.MaxAssignments === 1, got && got.MaxAssignments);
  check("GetHIT.Question round-trips", got && got.Question === HTML_QUESTION, got && got.Question);

  const listed = [];
  let nextToken;
  let pages = 0;
  do {
    const page = await client.send(new ListHITsCommand({ MaxResults: 1, NextToken: nextToken }));
    pages += 1;
    check(`ListHITs page ${pages} has at most 1 HIT`, Array.isArray(page.HITs) && page.HITs.length <= 1, page.HITs);
    check(`ListHITs page ${pages} NumResults matches`, page.NumResults === (page.HITs || []).length, page.NumResults);
    for (const hit of page.HITs || []) listed.push(hit.HITId);
    nextToken = page.NextToken;
  } while (nextToken && pages < 100);
  check("ListHITs pagination terminates", !nextToken, nextToken);
  check("ListHITs took one page per HIT", pages >= HIT_COUNT, pages);
  check("ListHITs returns every created HIT", hitIds.every((id) => listed.includes(id)), { listed, hitIds });
  check("ListHITs has no duplicates", new Set(listed).size === listed.length, listed);

  try {
    await client.send(new GetHITCommand({ HITId: "NOPE123" }));
    check("GetHIT on a missing HIT throws", false, "no error");
  } catch (error) {
    check("GetHIT on a missing HIT throws RequestError", error.name === "RequestError",
      { name: error.name, message: error.message });
    check("GetHIT on a missing HIT has TurkErrorCode HITDoesNotExist",
      error.TurkErrorCode === "AWS.MechanicalTurk.HITDoesNotExist", error.TurkErrorCode);
    check("GetHIT on a missing HIT has HTTP status 400",
      error.$metadata && error.$metadata.httpStatusCode === 400, error.$metadata);
  }
  const qualificationTypeId = await qualificationRoundTrip(client);
  return { hitTypeId: hitType.HITTypeId, hitIds, pages, qualificationTypeId };
}

// Create a type, grant it, read the score and the granted workers, revoke it.
async function qualificationRoundTrip(client) {
  const created = await client.send(new CreateQualificationTypeCommand({
    Name: `JS qualified ${Math.random().toString(16).slice(2, 10)}`,
    Description: "Passed the screener",
    QualificationTypeStatus: "Active",
  }));
  const typeId = created.QualificationType && created.QualificationType.QualificationTypeId;
  check("CreateQualificationType returns an Active type",
    typeof typeId === "string" && created.QualificationType.QualificationTypeStatus === "Active", created);
  const workerId = `A${Math.random().toString(16).slice(2, 15).toUpperCase()}`;
  await client.send(new AssociateQualificationWithWorkerCommand({
    QualificationTypeId: typeId, WorkerId: workerId, IntegerValue: 7, SendNotification: false,
  }));
  const score = await client.send(new GetQualificationScoreCommand({ QualificationTypeId: typeId, WorkerId: workerId }));
  check("GetQualificationScore reads the granted value",
    score.Qualification && score.Qualification.IntegerValue === 7 && score.Qualification.Status === "Granted",
    score.Qualification);
  check("GetQualificationScore.GrantTime is a Date",
    score.Qualification && score.Qualification.GrantTime instanceof Date, score.Qualification);
  const listed = await client.send(new ListWorkersWithQualificationTypeCommand({ QualificationTypeId: typeId }));
  check("ListWorkersWithQualificationType lists the worker",
    Array.isArray(listed.Qualifications) && listed.Qualifications.length === 1
      && listed.Qualifications[0].WorkerId === workerId, listed.Qualifications);
  await client.send(new DisassociateQualificationFromWorkerCommand({
    QualificationTypeId: typeId, WorkerId: workerId, Reason: "Retired the screener",
  }));
  // MTurk refused a revoked qualification's score with this text (Dallinger matches on it).
  let revokedError = null;
  try {
    await client.send(new GetQualificationScoreCommand({ QualificationTypeId: typeId, WorkerId: workerId }));
  } catch (error) {
    revokedError = error;
  }
  check("a revoked qualification's score is refused as MTurk refused it",
    revokedError !== null && revokedError.name === "RequestError"
      && /This operation can be called with a status of: Granted/.test(revokedError.message),
    revokedError && { name: revokedError.name, message: revokedError.message });
  const revokedList = await client.send(new ListWorkersWithQualificationTypeCommand({
    QualificationTypeId: typeId, Status: "Revoked",
  }));
  check("a revoked qualification is listed as Revoked",
    Array.isArray(revokedList.Qualifications) && revokedList.Qualifications.length === 1
      && revokedList.Qualifications[0].Status === "Revoked", revokedList.Qualifications);
  return typeId;
}

const client = new MTurkClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId, secretAccessKey: process.env.OPENTURK_SECRET_ACCESS_KEY || "openturk-test-secret" },
  maxAttempts: 1,
});

let result = null;
try {
  result = await run(client);
} catch (error) {
  failures.push({ check: "unexpected error", detail: { name: error.name, message: error.message } });
}
const ok = failures.length === 0;
console.log(JSON.stringify({ ok, endpoint, requester: accessKeyId, checks: checks.length, result, failures }));
process.exit(ok ? 0 : 1);
