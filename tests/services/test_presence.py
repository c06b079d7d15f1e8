from app.services.conversations import presence


async def test_presence_sees_guest_and_agent_sockets_in_a_ticket_room(
        guest, guest_socket, agent_socket, agent, live_server):
    ctx = live_server.ctx
    ticket = await ctx.db.tickets.find_one({})
    assert not await presence.guest_in_ticket_room(ctx, ticket=ticket)
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    assert await presence.guest_in_ticket_room(ctx, ticket=ticket)
    assert not await presence.user_in_ticket_room(ctx, user_id=agent["id"], ticket_id=ticket["_id"])
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    assert await presence.user_in_ticket_room(ctx, user_id=agent["id"], ticket_id=ticket["_id"])
    await guest_socket.call("ticket:leave", {"ticket_id": guest.ticket_id})
    assert not await presence.guest_in_ticket_room(ctx, ticket=ticket)


async def test_disconnect_user_cuts_every_socket_of_that_agent(agent, agent_socket, connect, agent_session, live_server):
    from tests.conftest import cookie_header

    second = await connect(cookie_header(agent_session))
    assert await presence.user_online(live_server.ctx, user_id=agent["id"])
    assert await presence.disconnect_user(live_server.ctx, user_id=agent["id"]) == 2
    for client in (agent_socket, second):
        for _ in range(50):
            if not client.sio.connected:
                break
            import asyncio
            await asyncio.sleep(0.02)
        assert not client.sio.connected
