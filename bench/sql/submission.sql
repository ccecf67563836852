-- Raw SQL baseline of a case submission (pgbench, prepared): one statement that does what POST /api/cases/ does
-- in the database — locate the covering areas and the nearest lane within 50 m (metres on the spheroid), pick the
-- squad of the category's kind serving the most specific place (lane, grid cell, community, street office), insert
-- the dispatched case, its report and dispatch events, the "case.dispatched" notification for the queue's endpoint
-- and its procrastinate job. No work calendar (deadline = now + the time limit in hours), no reason in words.
-- Variables (-D): minlon minlat maxlon maxlat (the city's extent), ncat (how many categories), tag (marks rows).
\set lon :minlon + random(0, 1000000) * (:maxlon - :minlon) / 1000000.0
\set lat :minlat + random(0, 1000000) * (:maxlat - :minlat) / 1000000.0
\set ci random(0, :ncat - 1)
WITH p AS (
  SELECT ST_SetSRID(ST_MakePoint(CAST(:lon AS float8), CAST(:lat AS float8)), 4326) AS g
), cat AS (
  SELECT c.* FROM cases_category c
  WHERE c.active AND NOT c.is_group AND NOT c.sensitive
  ORDER BY c.code OFFSET CAST(:ci AS int) LIMIT 1
), areas AS (
  SELECT max(a.id) FILTER (WHERE a.level = 'street_office') AS so,
         max(a.id) FILTER (WHERE a.level = 'community') AS community,
         max(a.id) FILTER (WHERE a.level = 'grid_cell') AS cell
  FROM grid_area a, p WHERE ST_Intersects(a.geom, p.g)
), lane AS (
  SELECT l.id, ST_Distance(CAST(l.geom AS geography), CAST(p.g AS geography)) AS d
  FROM lanes_lane l, p
  WHERE ST_DWithin(l.geom, p.g, 0.0007) AND ST_Distance(CAST(l.geom AS geography), CAST(p.g AS geography)) <= 50
  ORDER BY 2, 1 LIMIT 1
), squad AS (
  SELECT s.id FROM people_squad s
  JOIN people_squadkind k ON k.id = s.kind_id JOIN cat ON k.code = cat.owner CROSS JOIN areas
  LEFT JOIN lane ON true
  LEFT JOIN people_squad_lanes sl ON sl.squad_id = s.id AND sl.lane_id = lane.id
  LEFT JOIN people_squad_service_areas sa ON sa.squad_id = s.id AND sa.area_id IN (areas.cell, areas.community, areas.so)
  WHERE sl.id IS NOT NULL OR sa.id IS NOT NULL
  ORDER BY CASE WHEN sl.id IS NOT NULL THEN 0 WHEN sa.area_id = areas.cell THEN 1
                WHEN sa.area_id = areas.community THEN 2 ELSE 3 END, s.name, s.id
  LIMIT 1
), c AS (
  INSERT INTO cases_case (tracking_code, point, description, source, lane_distance_m, owner_queue, routing_reason,
                          returned_squad_ids, status, version, clock_unit, dispatched_at, deadline, limit_seconds,
                          status_before_suspend, supervision_level, spot_check_due, reporter_contact, idempotency_key,
                          created_at, updated_at, community_id, grid_cell_id, lane_id, squad_id, street_office_id,
                          category_id)
  SELECT upper(substr(md5(CAST(random() AS text)), 1, 10)), p.g, CAST(:tag AS text) || '-' || md5(CAST(random() AS text)), 'chief', lane.d,
         CASE WHEN squad.id IS NOT NULL THEN 'squad' WHEN cat.owner = 'community' AND areas.community IS NOT NULL
              THEN 'community' ELSE 'street_office' END,
         'raw', '{}', 'dispatched', 2, 'working', now(), now() + make_interval(hours => cat.deadline_amount),
         cat.deadline_amount * 3600, '', 0, false, '', md5(CAST(:tag AS text) || CAST(random() AS text)), now(), now(),
         areas.community, areas.cell, lane.id, squad.id, areas.so, cat.id
  FROM p, cat, areas LEFT JOIN lane ON true LEFT JOIN squad ON true
  WHERE areas.so IS NOT NULL  -- outside every street office: refused (the API answers 400)
  RETURNING id, point, owner_queue, squad_id, community_id, street_office_id
), e AS (
  INSERT INTO cases_caseevent (at, actor_name, actor_role, action, from_status, to_status, note, point, data, case_id)
  SELECT now(), v.actor, v.role, v.action, v.from_s, v.to_s, '', c.point, '{}', c.id
  FROM c, (VALUES ('chief', 'reporter', 'report', '', 'reported'),
                  ('系统', 'system', 'dispatch', 'reported', 'dispatched')) v(actor, role, action, from_s, to_s)
), ep AS (
  SELECT en.* FROM notify_endpoint en, c
  WHERE en.is_active AND en.recipient_kind = c.owner_queue
    AND en.recipient_id = CASE c.owner_queue WHEN 'squad' THEN c.squad_id WHEN 'community' THEN c.community_id
                                             ELSE c.street_office_id END
), nid AS (
  SELECT ep.*, nextval(pg_get_serial_sequence('notify_notification', 'id')) AS nid FROM ep
), j AS (
  INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, args)
  SELECT 'notifications', 'bench.raw_submission', 'notify.notification:' || nid.nid, 'notify.notification:' || nid.nid,
         jsonb_build_object('notification_id', nid.nid)
  FROM nid RETURNING id, CAST(args ->> 'notification_id' AS bigint) AS nid
)
INSERT INTO notify_notification (id, recipient_kind, recipient_id, recipient_name, event, channel, address, payload,
                                 delivery_key, status, attempts, last_error, job_id, created_at, endpoint_id)
SELECT nid.nid, nid.recipient_kind, nid.recipient_id, nid.recipient_name, 'bench.raw_submission', nid.channel,
       nid.address, jsonb_build_object('case_id', c.id), 'case:' || c.id || ':' || 'dispatch:' || 'v2:' || 'raw:' || nid.nid,
       'queued', 0, '', j.id, now(), nid.id
FROM nid JOIN j ON j.nid = nid.nid, c;
