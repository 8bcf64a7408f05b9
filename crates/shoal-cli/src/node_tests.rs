//! Unit tests of `node.rs`: table rows from `shoal-types` fixtures, flag parsing, merging.

use super::*;
use shoal_types::{ManagerStatus, NodeState, Reachability};

fn node(id: &str, host: &str, state: NodeState, ms: Option<ManagerStatus>) -> Node {
    let mut n = Node {
        id: id.into(),
        manager_status: ms,
        ..Default::default()
    };
    n.description.hostname = host.into();
    n.description.engine.engine_version = "28.2.2".into();
    n.status.state = state;
    n
}

fn leader() -> Option<ManagerStatus> {
    Some(ManagerStatus {
        leader: true,
        reachability: Reachability::Reachable,
        addr: "10.0.0.1:2377".into(),
    })
}

fn fixture() -> Vec<Node> {
    let mut worker = node("3f7zd0q2n8k1m5x9c4v6b2a1p", "node10", NodeState::Down, None);
    worker.spec.availability = Availability::Drain;
    worker.description.engine.engine_version = String::new();
    let reachable = Some(ManagerStatus {
        leader: false,
        reachability: Reachability::Unreachable,
        addr: "10.0.0.2:2377".into(),
    });
    vec![
        worker,
        node(
            "9xk2m4n6b8v0c1z3l5j7h9g2f",
            "node2",
            NodeState::Ready,
            reachable,
        ),
        node(
            "1a2b3c4d5e6f7g8h9i0j1k2l3",
            "node1",
            NodeState::Ready,
            leader(),
        ),
    ]
}

#[test]
fn ls_table_exact() {
    let mut nodes = fixture();
    sort_nodes(&mut nodes);
    let out = table(&ls_rows(&nodes, "1a2b3c4d5e6f7g8h9i0j1k2l3"));
    let want = "\
ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION
1a2b3c4d5e6f7g8h9i0j1k2l3 *   node1      Ready     Active         Leader           28.2.2
9xk2m4n6b8v0c1z3l5j7h9g2f     node2      Ready     Active         Unreachable      28.2.2
3f7zd0q2n8k1m5x9c4v6b2a1p     node10     Down      Drain                           \n";
    assert_eq!(out, want);
}

#[test]
fn status_and_manager_cells() {
    let n = node("a", "h", NodeState::Disconnected, None);
    assert_eq!(status_cell(&n), "Disconnected");
    assert_eq!(manager_status_cell(&n), "");
    let n = node("a", "h", NodeState::Unknown, leader());
    assert_eq!(status_cell(&n), "Unknown");
    assert_eq!(manager_status_cell(&n), "Leader");
    let mut n = node("a", "h", NodeState::Ready, leader());
    n.manager_status.as_mut().unwrap().leader = false;
    assert_eq!(manager_status_cell(&n), "Reachable");
    n.spec.availability = Availability::Pause;
    assert_eq!(ls_rows(&[n], "")[1][3], "Pause");
}

#[test]
fn row_context_for_templates() {
    let n = &fixture()[2];
    let mut info = SystemInfo::default();
    info.swarm.node_id = n.id.clone();
    let v = row_context(n, &info);
    assert_eq!(v["Self"], json!(true));
    assert_eq!(v["ManagerStatus"], json!("Leader"));
    assert_eq!(v["TLSStatus"], json!("Unknown"));
    assert_eq!(
        template::render("{{.Hostname}} {{.Status}}", &v).unwrap(),
        "node1 Ready"
    );
}

#[test]
fn inspect_json_is_indented_like_go() {
    let n = &fixture()[2];
    let out = inspect_text("", std::slice::from_ref(n)).unwrap();
    assert!(
        out.starts_with("[\n    {\n        \"ID\": \"1a2b3c4d5e6f7g8h9i0j1k2l3\",\n"),
        "{out}"
    );
    assert!(out.ends_with("\n    }\n]\n"), "{out}");
    assert_eq!(inspect_text("", &[]).unwrap(), "[]\n");
    let compact = inspect_text("json", std::slice::from_ref(n)).unwrap();
    assert!(compact.starts_with("[{\"ID\":") && compact.ends_with("}]\n"));
    assert_eq!(
        inspect_text("{{.ID}}", std::slice::from_ref(n)).unwrap(),
        "1a2b3c4d5e6f7g8h9i0j1k2l3\n"
    );
}

#[test]
fn update_merges_labels_and_refuses_missing_key() {
    let mut n = fixture().remove(0);
    n.spec.labels.insert("old".into(), "1".into());
    let a = UpdateArgs {
        availability: Some(Availability::Active),
        role: Some(NodeRole::Manager),
        label_add: vec!["zone=a".into(), "ssd".into()],
        label_rm: vec!["old".into()],
        node: "x".into(),
    };
    assert!(matches!(merge_update(&a, &mut n), Ok(Merge::Update)));
    assert_eq!(n.spec.role, NodeRole::Manager);
    assert_eq!(n.spec.availability, Availability::Active);
    let want: BTreeMap<String, String> = [
        ("ssd".to_string(), String::new()),
        ("zone".to_string(), "a".to_string()),
    ]
    .into();
    assert_eq!(n.spec.labels, want);
    let a = UpdateArgs {
        label_rm: vec!["nope".into()],
        label_add: vec![],
        ..a
    };
    let err = merge_update(&a, &mut n).err().unwrap();
    assert_eq!(err.to_string(), "key nope doesn't exist in node's labels");
}

#[test]
fn role_already_set_is_skipped() {
    let mut n = fixture().remove(2);
    n.spec.role = NodeRole::Manager;
    assert!(matches!(
        set_role(&mut n, NodeRole::Manager),
        Ok(Merge::Skip)
    ));
    assert!(matches!(
        set_role(&mut n, NodeRole::Worker),
        Ok(Merge::Update)
    ));
    assert_eq!(n.spec.role, NodeRole::Worker);
}
